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

/// The server's limits on a dialog (`model/integration_action.go`, `Dialog.IsValid` and
/// `DialogElement.IsValid`; lengths are Go `len`, so bytes, not characters).
pub mod dialog_limits {
    pub const TITLE: usize = 24;
    pub const DISPLAY_NAME: usize = 24;
    pub const NAME: usize = 300;
    pub const HELP_TEXT: usize = 150;
    /// Default and placeholder of a `text` element (and a `bool`'s placeholder).
    pub const TEXT: usize = 150;
    /// Default and placeholder of a `textarea`.
    pub const TEXTAREA: usize = 3000;
    /// Default and placeholder of a `select`.
    pub const SELECT: usize = 3000;
}

impl Dialog {
    /// What the server's `Dialog.IsValid` would say about this dialog; empty when valid. The
    /// server opens an invalid dialog anyway and only logs a warning, so nothing tells the
    /// bot: this is how sharebot checks its own dialogs.
    pub fn problems(&self) -> Vec<String> {
        use dialog_limits as max;
        let mut out = Vec::new();
        if self.title.is_empty() || self.title.len() > max::TITLE {
            out.push(format!("invalid dialog title {:?}", self.title));
        }
        let mut names = std::collections::HashSet::new();
        for e in &self.elements {
            if !names.insert(e.name.as_str()) {
                out.push(format!("duplicate dialog element {:?}", e.name));
            }
            let mut fail =
                |what: String| out.push(format!("{:?} field is not valid: {what}", e.name));
            let min = e.min_length.unwrap_or(0);
            let max_len = e.max_length.unwrap_or(0);
            if min > max_len {
                fail(format!(
                    "min length {min} is more than max length {max_len}"
                ));
            }
            for (field, value, limit, required) in [
                ("display_name", &e.display_name, max::DISPLAY_NAME, true),
                ("name", &e.name, max::NAME, true),
                ("help_text", &e.help_text, max::HELP_TEXT, false),
            ] {
                if required && value.is_empty() {
                    fail(format!("{field} cannot be empty"));
                }
                if value.len() > limit {
                    fail(format!(
                        "{field} is {} bytes, more than {limit}",
                        value.len()
                    ));
                }
            }
            let (default_max, placeholder_max) = match e.element_type.as_str() {
                "text" => (max::TEXT, max::TEXT),
                "textarea" => (max::TEXTAREA, max::TEXTAREA),
                "select" => (max::SELECT, max::SELECT),
                "bool" => (usize::MAX, max::TEXT),
                "radio" => (usize::MAX, usize::MAX),
                other => {
                    fail(format!("invalid element type {other:?}"));
                    continue;
                }
            };
            if e.default.len() > default_max {
                fail(format!("default is more than {default_max} bytes"));
            }
            if e.placeholder.len() > placeholder_max {
                fail(format!("placeholder is more than {placeholder_max} bytes"));
            }
            let text_like = matches!(e.element_type.as_str(), "text" | "textarea");
            let subtypes = ["", "text", "email", "number", "tel", "url", "password"];
            if text_like && !subtypes.contains(&e.subtype.as_str()) {
                fail(format!("invalid subtype {:?}", e.subtype));
            }
            let static_options = e.element_type == "radio"
                || (e.element_type == "select" && e.data_source.is_empty());
            if static_options
                && !e.default.is_empty()
                && !e.options.iter().any(|o| o.value == e.default)
            {
                fail(format!(
                    "default value {:?} is not one of the options",
                    e.default
                ));
            }
            if e.element_type == "select"
                && !["", "users", "channels"].contains(&e.data_source.as_str())
            {
                fail(format!("invalid data source {:?}", e.data_source));
            }
            if e.element_type == "bool" && !["", "true", "false"].contains(&e.default.as_str()) {
                fail("invalid default of bool".into());
            }
        }
        out
    }
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

#[cfg(test)]
mod dialog_tests {
    use super::*;

    fn element(name: &str, kind: &str) -> DialogElement {
        DialogElement {
            display_name: "Field".into(),
            name: name.into(),
            element_type: kind.into(),
            ..DialogElement::default()
        }
    }

    /// Each of the server's checks trips on the value just past its limit, and not at it.
    #[test]
    fn problems_name_each_limit_the_server_checks() {
        let ok = Dialog {
            title: "t".repeat(24),
            elements: vec![element("a", "text")],
            ..Dialog::default()
        };
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
        let bad = |f: &dyn Fn(&mut Dialog)| {
            let mut d = ok.clone();
            f(&mut d);
            assert!(!d.problems().is_empty(), "{d:?} passed");
        };
        bad(&|d| d.title = "é".repeat(13));
        bad(&|d| d.title.clear());
        bad(&|d| d.elements.push(element("a", "textarea")));
        bad(&|d| d.elements[0].display_name = "d".repeat(25));
        bad(&|d| d.elements[0].display_name.clear());
        bad(&|d| d.elements[0].name = "n".repeat(301));
        bad(&|d| d.elements[0].help_text = "h".repeat(151));
        bad(&|d| d.elements[0].placeholder = "p".repeat(151));
        bad(&|d| d.elements[0].default = "p".repeat(151));
        bad(&|d| d.elements[0].subtype = "secret".into());
        bad(&|d| d.elements[0].min_length = Some(2));
        bad(&|d| d.elements[0].element_type = "checkbox".into());
        bad(&|d| {
            d.elements[0].element_type = "select".into();
            d.elements[0].default = "x".into();
        });
        bad(&|d| {
            d.elements[0].element_type = "bool".into();
            d.elements[0].default = "yes".into();
        });
        let mut fine = ok.clone();
        fine.elements[0].min_length = Some(1);
        fine.elements[0].max_length = Some(64);
        fine.elements[0].help_text = "h".repeat(150);
        assert!(fine.problems().is_empty());
    }
}
