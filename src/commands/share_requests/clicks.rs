//! Clicks on a share request's buttons and the Deny-with-reason dialog. Nothing counts
//! until it checks out: the context's seal (for this request, action and recipient), the post
//! (the one recorded for that recipient), and the user (an approver now, asked of the server;
//! for Withdraw, the asker). The answer is quick; the work follows in the background.

use serde_json::{json, Map, Value};

use crate::http::{ephemeral, field as text, CallbackRefusal};
use crate::mattermost::models::{
    Dialog, DialogElement, OpenDialogRequest, PostActionIntegrationRequest,
    PostActionIntegrationResponse, SubmitDialogRequest, SubmitDialogResponse,
};
use crate::store::{ShareRequest, ShareState};

use super::super::parse::MAX_NOTE_LEN;
use super::{CommandError, Commands, ASKER};

/// The `kind` of a share request button's sealed context.
pub const SHARE_BUTTON: &str = "share_request";
/// The Deny-with-reason dialog's callback id (and its sealed state's `kind`).
pub const SHARE_DIALOG: &str = "sharebot_share_deny";
/// Action ids (alphanumeric).
pub const APPROVE: &str = "approve";
pub const DENY: &str = "deny";
pub const DENY_WITH_REASON: &str = "denywithreason";
pub const WITHDRAW: &str = "withdraw";

/// The Deny-with-reason dialog: one required reason, at most [`MAX_NOTE_LEN`] characters.
pub(crate) fn reason_dialog(request: &ShareRequest, state: String) -> Dialog {
    Dialog {
        callback_id: SHARE_DIALOG.into(),
        title: "Deny the share request".into(),
        introduction_text: format!(
            "Request #{}: share ~{} with {}. The reason goes to the member who asked.",
            request.number, request.channel_name, request.org_name
        ),
        elements: vec![DialogElement {
            display_name: "Reason".into(),
            name: "reason".into(),
            element_type: "textarea".into(),
            min_length: Some(1),
            max_length: Some(MAX_NOTE_LEN as u32),
            help_text: "Shown to the member and the other approvers, and kept in the audit log."
                .into(),
            ..DialogElement::default()
        }],
        submit_label: "Deny".into(),
        state,
        ..Dialog::default()
    }
}

impl Commands {
    /// Whether a click is on a share request's button.
    pub fn owns_share_click(click: &PostActionIntegrationRequest) -> bool {
        click.context.get("kind") == Some(&json!(SHARE_BUTTON))
    }

    /// A click on a share request's button.
    pub async fn share_click(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Result<PostActionIntegrationResponse, CallbackRefusal> {
        self.ctx
            .signer
            .open(&click.context)
            .map_err(crate::review::refusal)?;
        let (Some(SHARE_BUTTON), Some(request_id), Some(action), Some(recipient)) = (
            text(&click.context, "kind"),
            text(&click.context, "request"),
            text(&click.context, "action"),
            text(&click.context, "recipient"),
        ) else {
            return Err(CallbackRefusal::Forged);
        };
        match self
            .checked_share_click(&click, request_id, action, recipient)
            .await
        {
            Ok(answer) => Ok(answer),
            Err(err) => {
                tracing::warn!(
                    request = request_id,
                    action,
                    "a share request click failed: {err}"
                );
                Ok(ephemeral(format!(
                    "That did not work: {} Nothing was changed.",
                    err.user_message()
                )))
            }
        }
    }

    async fn checked_share_click(
        &self,
        click: &PostActionIntegrationRequest,
        request_id: &str,
        action: &str,
        recipient: &str,
    ) -> Result<PostActionIntegrationResponse, CommandError> {
        let store = &self.ctx.store;
        let Some(request) = store.share_request(request_id).await? else {
            return Ok(ephemeral(
                "This request no longer exists. Nothing was changed.".into(),
            ));
        };
        // The click must come from the very post the context was sealed for.
        let row = store.share_post_by_post(&click.post_id).await?;
        if !row.is_some_and(|r| r.request_id == request.id && r.recipient == recipient) {
            return Ok(ephemeral(
                "This button is not valid here. Nothing was changed.".into(),
            ));
        }
        if action == WITHDRAW {
            if recipient != ASKER || click.user_id != request.asked_by {
                return Ok(ephemeral(
                    "Only the member who asked can withdraw this request. Nothing was changed."
                        .into(),
                ));
            }
        } else if recipient != click.user_id || !self.may_approve(&click.user_id).await? {
            return Ok(ephemeral(
                "Only an approver this request was sent to can decide it. Nothing was changed."
                    .into(),
            ));
        }
        if request.state != ShareState::Pending {
            return Ok(ephemeral(self.already_decided(&request).await));
        }
        let to = match action {
            APPROVE => ShareState::Approved,
            DENY => ShareState::Denied,
            WITHDRAW => ShareState::Withdrawn,
            DENY_WITH_REASON => {
                self.open_reason_dialog(click, &request, recipient).await?;
                return Ok(PostActionIntegrationResponse::default());
            }
            _ => {
                return Ok(ephemeral(
                    "This button is not valid. Nothing was changed.".into(),
                ))
            }
        };
        self.answer_decision(&request, to, &click.user_id, "").await
    }

    /// Decides and says so to the clicking user; the loser of a race is told who won.
    async fn answer_decision(
        &self,
        request: &ShareRequest,
        to: ShareState,
        by: &str,
        reason: &str,
    ) -> Result<PostActionIntegrationResponse, CommandError> {
        if !self.decide_share(request, to, by, reason).await? {
            let now = self.ctx.store.share_request(&request.id).await?;
            let text = match now {
                Some(now) => self.already_decided(&now).await,
                None => "This request no longer exists. Nothing was changed.".into(),
            };
            return Ok(ephemeral(text));
        }
        let what = match to {
            ShareState::Approved => "Approved",
            ShareState::Denied => "Denied",
            _ => "Withdrew",
        };
        Ok(ephemeral(format!(
            "{what} request #{} (~{} with {}); every copy of it is being updated.",
            request.number, request.channel_name, request.org_name
        )))
    }

    /// "Request #3 was already approved by @bob. Nothing was changed."
    async fn already_decided(&self, request: &ShareRequest) -> String {
        let by = match &request.decided_by {
            Some(id) => format!(" by @{}", self.ctx.username(id).await),
            None => String::new(),
        };
        format!(
            "Request #{} was already {}{by}. Nothing was changed.",
            request.number,
            request.state.as_str()
        )
    }

    async fn open_reason_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ShareRequest,
        recipient: &str,
    ) -> Result<(), CommandError> {
        let mut fields = Map::new();
        fields.insert("kind".into(), json!(SHARE_DIALOG));
        fields.insert("request".into(), json!(request.id));
        fields.insert("recipient".into(), json!(recipient));
        let state = Value::Object(self.ctx.signer.seal(fields)).to_string();
        self.ctx
            .client
            .open_dialog(&OpenDialogRequest {
                trigger_id: click.trigger_id.clone(),
                url: self.ctx.dialogs_url.clone(),
                dialog: reason_dialog(request, state),
            })
            .await?;
        Ok(())
    }

    /// The Deny-with-reason dialog's submission: the same checks as a click, then the denial.
    pub async fn share_dialog(
        &self,
        submit: SubmitDialogRequest,
    ) -> Result<SubmitDialogResponse, CallbackRefusal> {
        let state: Map<String, Value> = serde_json::from_str(&submit.state).unwrap_or_default();
        self.ctx
            .signer
            .open(&state)
            .map_err(crate::review::refusal)?;
        let (Some(SHARE_DIALOG), Some(request_id), Some(recipient)) = (
            text(&state, "kind"),
            text(&state, "request"),
            text(&state, "recipient"),
        ) else {
            return Err(CallbackRefusal::Forged);
        };
        if recipient != submit.user_id {
            return Err(CallbackRefusal::Forged);
        }
        if submit.cancelled {
            return Ok(SubmitDialogResponse::default());
        }
        let failed = |error: String| {
            Ok(SubmitDialogResponse {
                error,
                ..Default::default()
            })
        };
        let reason = submit
            .submission
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string();
        if reason.is_empty() || reason.chars().count() > MAX_NOTE_LEN {
            let mut errors = std::collections::BTreeMap::new();
            errors.insert(
                "reason".to_string(),
                format!("Give a reason of 1 to {MAX_NOTE_LEN} characters."),
            );
            return Ok(SubmitDialogResponse {
                errors,
                ..Default::default()
            });
        }
        let checked = async {
            let Some(request) = self.ctx.store.share_request(request_id).await? else {
                return Ok::<_, CommandError>(Err(
                    "This request no longer exists. Nothing was changed.".to_string(),
                ));
            };
            if !self.may_approve(&submit.user_id).await? {
                return Ok(Err(
                    "Only an approver can decide this request. Nothing was changed.".into(),
                ));
            }
            if request.state != ShareState::Pending {
                return Ok(Err(self.already_decided(&request).await));
            }
            let answer = self
                .answer_decision(&request, ShareState::Denied, &submit.user_id, &reason)
                .await?;
            Ok(match self.ctx.store.share_request(request_id).await? {
                Some(now) if now.decided_by.as_deref() == Some(&submit.user_id) => Ok(()),
                _ => Err(answer.ephemeral_text),
            })
        };
        match checked.await {
            Ok(Ok(())) => Ok(SubmitDialogResponse::default()),
            Ok(Err(why)) => failed(why),
            Err(err) => failed(format!("That did not work: {}", err.user_message())),
        }
    }
}
