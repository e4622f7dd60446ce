//! Posts, their props and the Slack-style message attachments with interactive actions.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{is_empty_str, nullable};

/// A post (message). `props` carries attachments and any other property the server or an
/// integration set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Post {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub edit_at: i64,
    pub delete_at: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub user_id: String,
    pub channel_id: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub root_id: String,
    pub message: String,
    /// Empty for a user post; `system_…` for system messages (e.g. `system_join_channel`).
    #[serde(rename = "type", skip_serializing_if = "is_empty_str")]
    pub post_type: String,
    #[serde(deserialize_with = "nullable")]
    pub props: PostProps,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub hashtags: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub file_ids: Vec<String>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub pending_post_id: String,
    /// Set when the post came from another organization over a shared channel.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// Server-computed extras (embeds, reactions…); kept opaque.
    #[serde(skip_serializing)]
    pub metadata: Option<Value>,
}

/// `Post.props`: the attachments the bot renders, plus every other property kept as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostProps {
    /// Message attachments. Props are written by whoever made the post, so a malformed value
    /// decodes as no attachments instead of failing the whole post.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<MessageAttachment>,
    /// Every other property (`from_bot`, `sharebot_*` markers, …).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Decodes a value that outside parties control, falling back to the default when malformed.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// A Slack-style message attachment (`props.attachments[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageAttachment {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub fallback: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub color: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub pretext: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub author_name: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub author_icon: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub title: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub text: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<AttachmentField>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub footer: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub footer_icon: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<PostAction>,
}

/// One `title: value` row of an attachment; `value` may be a string or a number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentField {
    pub title: String,
    pub value: Value,
    pub short: bool,
}

/// A button or select menu of an interactive message (`PostAction`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostAction {
    /// Alphanumeric id; the server assigns one when empty.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub id: String,
    /// `button` or `select`.
    #[serde(rename = "type", skip_serializing_if = "is_empty_str")]
    pub action_type: String,
    pub name: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub tooltip: String,
    /// `default`, `primary`, `success`, `good`, `warning`, `danger` or a colour.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub style: String,
    #[serde(skip_serializing_if = "super::is_false")]
    pub disabled: bool,
    /// `users` or `channels` for a dynamic select; empty for static `options`.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub data_source: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PostActionOption>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub default_option: String,
    /// Where the server POSTs a click. Stripped by the server from every post it sends back.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub integration: Option<PostActionIntegration>,
}

/// One option of a static select menu.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostActionOption {
    pub text: String,
    pub value: String,
}

/// The callback of an action: URL and the context echoed back on a click.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostActionIntegration {
    pub url: String,
    #[serde(deserialize_with = "nullable")]
    pub context: Map<String, Value>,
}

/// `GET /channels/{id}/posts`: posts by id plus their order (newest first).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostList {
    #[serde(deserialize_with = "nullable")]
    pub order: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub posts: std::collections::HashMap<String, Post>,
    pub next_post_id: String,
    pub prev_post_id: String,
}

impl PostList {
    /// The posts in `order` (newest first), skipping ids missing from `posts`.
    pub fn ordered(&self) -> Vec<&Post> {
        self.order
            .iter()
            .filter_map(|id| self.posts.get(id))
            .collect()
    }
}

/// Body of `PUT /posts/{id}/patch`: only the fields given are changed; a given `props`
/// replaces the post's whole props (send the attachments and every marker you keep).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PostPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<PostProps>,
}

/// Body of `POST /posts/ephemeral`: a post only `user_id` sees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EphemeralPost {
    pub user_id: String,
    pub post: Post,
}
