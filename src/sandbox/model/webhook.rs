//! Incoming webhooks as the server keeps them (`model.IncomingWebhook`) and the payload posted to
//! one (`model.IncomingWebhookRequest`), field for field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::null_as_default;

/// `model.IncomingWebhook`: who owns it (its posts are attributed to them), where it posts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IncomingWebhook {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub create_at: i64,
    #[serde(default)]
    pub update_at: i64,
    #[serde(default)]
    pub delete_at: i64,
    /// The owner: every post made through the hook is this user's.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub channel_id: String,
    #[serde(default)]
    pub team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub display_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub icon_url: String,
    /// A locked hook posts only to its own channel.
    #[serde(default)]
    pub channel_locked: bool,
}

/// `model.IncomingWebhookRequest`: what a caller of `POST /hooks/{id}` sends.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IncomingWebhookRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub icon_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub icon_emoji: String,
    /// `channel`: a channel name of the hook's team (with or without `#`), or `@username` for
    /// the direct channel between the hook's owner and that user.
    #[serde(default, rename = "channel", deserialize_with = "null_as_default")]
    pub channel_name: String,
    #[serde(default, rename = "type", deserialize_with = "null_as_default")]
    pub post_type: String,
    #[serde(default)]
    pub props: Map<String, Value>,
    #[serde(default)]
    pub attachments: Option<Vec<Value>>,
}
