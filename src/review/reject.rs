//! Rejecting a request with a reason: the one way in for a click, a dialog and a rule, and
//! the **Reject with reason…** dialog.

use serde_json::{json, Map, Value};

use crate::http::field as text;
use crate::mattermost::models::{
    Dialog, DialogElement, OpenDialogRequest, PostActionIntegrationRequest,
    PostActionIntegrationResponse, SubmitDialogRequest, SubmitDialogResponse,
};
use crate::metrics::Metrics;
use crate::store::{Claim, Decider, Decision, How, RequestState, ReviewRequest, Verdict};

use super::message::{render, REVIEW_REJECT_DIALOG};
use super::{Review, ReviewError};

/// The reject dialog's callback id.
const REJECT_CALLBACK: &str = "sharebot_reject";

/// The **Reject with reason…** dialog: one required reason of at most [`REASON_MAX`]
/// characters (the web app enforces `max_length`; the server does not, so the submission is
/// checked again).
pub(crate) fn reject_dialog(introduction_text: String, state: String) -> Dialog {
    Dialog {
        callback_id: REJECT_CALLBACK.into(),
        title: "Reject shared channel".into(),
        introduction_text,
        elements: vec![DialogElement {
            display_name: "Reason".into(),
            name: "reason".into(),
            element_type: "textarea".into(),
            max_length: Some(REASON_MAX as u32),
            placeholder: "We already have a channel for this".into(),
            help_text:
                "Posted in the channel for the other organization, and shown to every admin.".into(),
            ..DialogElement::default()
        }],
        submit_label: "Reject".into(),
        state,
        ..Dialog::default()
    }
}

/// The longest reason a reject carries, in characters (the dialogs' `max_length`).
pub const REASON_MAX: usize = 500;

/// `reason` trimmed, `None` when empty; refused when longer than [`REASON_MAX`].
pub fn reason(reason: Option<&str>) -> Result<Option<&str>, ReviewError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        Some(r) if r.chars().count() > REASON_MAX => Err(ReviewError::Refused(format!(
            "a reason is at most {REASON_MAX} characters"
        ))),
        _ => Ok(reason),
    }
}

impl Review {
    /// Claims a reject of `request_id` for `by`, made `how`, with `reason` (kept as the
    /// request's note: the notice in the channel quotes it to the sending side and every
    /// copy of the review DM shows it), then carries it out in the background. A request
    /// decided meanwhile is answered [`Decision::AlreadyDecided`] and left as it is.
    pub async fn reject(
        &self,
        request_id: &str,
        by: Decider,
        how: How,
        reason: Option<&str>,
    ) -> Result<Decision, ReviewError> {
        let note = self::reason(reason)?;
        let claim = Claim {
            verdict: Verdict::Reject,
            how,
            by,
            team_id: None,
            note,
        };
        self.begin(request_id, &claim).await
    }

    /// Claims `claim` for `request_id`; when this call won it, counts it and applies it in the
    /// background.
    pub(super) async fn begin(
        &self,
        request_id: &str,
        claim: &Claim<'_>,
    ) -> Result<Decision, ReviewError> {
        let decision = self.ctx.store.begin_decision(request_id, claim).await?;
        if let Decision::Made(made) = &decision {
            let waited = Metrics::since(made.created_at);
            self.ctx.metrics.decision(claim.verdict, claim.how, waited);
            self.spawn_apply(made.id.clone());
        }
        Ok(decision)
    }
}

impl Review {
    /// **Reject with reason…**: opens the dialog for the clicking admin.
    pub(super) async fn open_reject_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        if request.state != RequestState::Pending || request.deciding.is_some() {
            return self.already(request).await;
        }
        let mut state = Map::new();
        state.insert("kind".into(), json!(REVIEW_REJECT_DIALOG));
        state.insert("request".into(), json!(request.id));
        state.insert("user".into(), json!(click.user_id));
        let state = Value::Object(ctx.signer.seal(state));
        let intro = render(
            ctx,
            "callback_reply.md.j2",
            request,
            json!({"reply": "reject_intro", "team": "", "state": "", "by": "", "at": "", "reason": "", "approvers": ""}),
        )?;
        let dialog = OpenDialogRequest {
            trigger_id: click.trigger_id.clone(),
            url: ctx.dialogs_url.clone(),
            dialog: reject_dialog(intro, state.to_string()),
        };
        ctx.client.open_dialog(&dialog).await?;
        Ok(PostActionIntegrationResponse::default())
    }

    /// The reject dialog submitted by an approver (checked by the caller): the reason is
    /// required and at most [`REASON_MAX`] characters.
    pub(super) async fn rejected_in_dialog(
        &self,
        submit: &SubmitDialogRequest,
        request: &ReviewRequest,
    ) -> Result<SubmitDialogResponse, ReviewError> {
        let field_error = |error: String| {
            let mut answer = SubmitDialogResponse::default();
            answer.errors.insert("reason".into(), error);
            answer
        };
        let given = text(&submit.submission, "reason");
        let reason = match self::reason(given) {
            Ok(Some(reason)) => reason,
            Ok(None) => {
                return Ok(field_error(
                    "Say why (or use the **Reject** button to decline without a reason).".into(),
                ))
            }
            Err(_) => return Ok(field_error(format!("At most {REASON_MAX} characters."))),
        };
        let by = Decider::Admin(submit.user_id.clone());
        match self
            .reject(&request.id, by, How::Dialog, Some(reason))
            .await?
        {
            Decision::Made(_) => Ok(SubmitDialogResponse::default()),
            Decision::AlreadyDecided(current) => Ok(SubmitDialogResponse {
                error: self.already(&current).await?.ephemeral_text,
                ..Default::default()
            }),
            Decision::NotFound => Ok(SubmitDialogResponse {
                error: "This request no longer exists. Nothing was changed.".into(),
                ..Default::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_at_most_500_characters() {
        assert_eq!(reason(None).unwrap(), None);
        assert_eq!(reason(Some("   ")).unwrap(), None);
        assert_eq!(reason(Some(" not for us ")).unwrap(), Some("not for us"));
        let longest = "é".repeat(REASON_MAX);
        assert_eq!(reason(Some(&longest)).unwrap(), Some(longest.as_str()));
        let err = reason(Some(&"é".repeat(REASON_MAX + 1))).unwrap_err();
        assert_eq!(err.user_message(), "a reason is at most 500 characters");
    }
}
