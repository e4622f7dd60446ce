//! Integration-action callbacks (button and menu clicks) and interactive dialogs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{is_empty_str, nullable, Post};

/// What the server POSTs to an action's integration URL when a user clicks it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostActionIntegrationRequest {
    pub user_id: String,
    pub user_name: String,
    pub channel_id: String,
    pub channel_name: String,
    pub team_id: String,
    pub team_domain: String,
    pub post_id: String,
    /// Lets the integration open a dialog for this click, for a few seconds.
    pub trigger_id: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub data_source: String,
    /// The action's context; for a select, the chosen value is added as `selected_option`.
    #[serde(deserialize_with = "nullable")]
    pub context: Map<String, Value>,
}

/// The integration's answer to a click.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostActionIntegrationResponse {
    /// Replaces the clicked post's message and props.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub update: Option<Post>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub ephemeral_text: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub goto_location: String,
    #[serde(skip_serializing_if = "super::is_false")]
    pub skip_slack_parsing: bool,
}

/// Body of `POST /actions/dialogs/open`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenDialogRequest {
    pub trigger_id: String,
    /// Where the server POSTs the submission.
    pub url: String,
    pub dialog: Dialog,
}

/// An interactive dialog.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dialog {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub callback_id: String,
    pub title: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub introduction_text: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub icon_url: String,
    #[serde(deserialize_with = "nullable")]
    pub elements: Vec<DialogElement>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub submit_label: String,
    pub notify_on_cancel: bool,
    /// Opaque string echoed back in the submission.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub state: String,
}

/// One field of a dialog.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialogElement {
    pub display_name: String,
    pub name: String,
    /// `text`, `textarea`, `select`, `bool` or `radio`.
    #[serde(rename = "type")]
    pub element_type: String,
    /// For text: `email`, `number`, `password`, `tel`, `url`…
    #[serde(skip_serializing_if = "is_empty_str")]
    pub subtype: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub default: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub placeholder: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub help_text: String,
    pub optional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub data_source: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<super::PostActionOption>,
}

/// What the server POSTs to the dialog URL on submit (or cancel, with `notify_on_cancel`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitDialogRequest {
    /// Always `dialog_submission`.
    #[serde(rename = "type")]
    pub request_type: String,
    pub url: String,
    pub callback_id: String,
    pub state: String,
    pub user_id: String,
    pub channel_id: String,
    pub team_id: String,
    /// Field name → value (string, bool or number, depending on the element).
    #[serde(deserialize_with = "nullable")]
    pub submission: Map<String, Value>,
    pub cancelled: bool,
}

impl std::fmt::Debug for SubmitDialogRequest {
    /// The submission may hold a password or an invite code: only its field names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmitDialogRequest")
            .field("callback_id", &self.callback_id)
            .field("user_id", &self.user_id)
            .field("channel_id", &self.channel_id)
            .field("team_id", &self.team_id)
            .field(
                "submission_fields",
                &self.submission.keys().collect::<Vec<_>>(),
            )
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

/// The integration's answer to a dialog submission; errors are shown next to the fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitDialogResponse {
    #[serde(skip_serializing_if = "is_empty_str")]
    pub error: String,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub errors: std::collections::BTreeMap<String, String>,
}

/// The JSON error body of every failed API call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppError {
    /// Stable translation id, e.g. `api.context.invalid_param.app_error`.
    pub id: String,
    pub message: String,
    pub detailed_error: String,
    pub request_id: String,
    pub status_code: u16,
}
