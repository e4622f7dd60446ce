//! "Always reject": the outcome of a refused request offers a reject rule for that exact
//! channel name on its connection (one click), or for a pattern the admin edits in a dialog.
//! The clicker is checked like any decider at click time, and the audit names them.

use serde_json::{json, Map, Value};

use crate::http::{ephemeral, field as text};
use crate::mattermost::models::{
    Dialog, DialogElement, OpenDialogRequest, PostActionIntegrationRequest,
    PostActionIntegrationResponse, SubmitDialogRequest, SubmitDialogResponse,
};
use crate::store::{NewRule, NotificationPost, RequestState, ReviewRequest, RuleAction};

use super::message::ALWAYS_DIALOG;
use super::rules::{Pattern, RuleChange, PATTERN_MAX, REASON_MAX};
use super::{apply, Review, ReviewError};

/// The Always reject dialog's callback id.
const ALWAYS_CALLBACK: &str = "sharebot_always_reject";

/// The dialog: the pattern (the channel's name to start with) and the reason the other
/// organization is told next time.
fn always_dialog(request: &ReviewRequest, state: String) -> Dialog {
    Dialog {
        callback_id: ALWAYS_CALLBACK.into(),
        title: "Always reject".into(),
        introduction_text: "A rule for this connection: channels whose name matches are rejected on arrival, without asking anyone. A glob (`eng-*`, `*-private`) or a regular expression between slashes (`/^social-/`).".into(),
        elements: vec![
            DialogElement {
                display_name: "Channel name".into(),
                name: "pattern".into(),
                element_type: "text".into(),
                default: request.channel_name.clone(),
                max_length: Some(PATTERN_MAX as u32),
                help_text: "The name, not the display name.".into(),
                ..DialogElement::default()
            },
            DialogElement {
                display_name: "Reason".into(),
                name: "reason".into(),
                element_type: "textarea".into(),
                optional: true,
                default: request.note.clone().unwrap_or_default(),
                max_length: Some(REASON_MAX as u32),
                help_text: "Told to the other organization in the channel.".into(),
                ..DialogElement::default()
            },
        ],
        submit_label: "Add rule".into(),
        state,
        ..Dialog::default()
    }
}

impl Review {
    /// **Always reject `<name>` from Org A**: a reject rule for exactly this channel's name.
    pub(super) async fn always_reject(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
        notification: &NotificationPost,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        if request.state != RequestState::Rejected {
            return Ok(ephemeral(
                "Only a rejected channel can be rejected always. Nothing was changed.".into(),
            ));
        }
        let reason = request.note.clone();
        let added = self
            .add_reject_rule(request, &request.channel_name, reason, &click.user_id)
            .await?;
        let ctx = &*self.ctx;
        let teams = ctx.teams().await?;
        let mut answer = ephemeral(added);
        answer.update = Some(
            ctx.request_post(
                request,
                &notification.admin_user_id,
                notification.chosen_team_id.as_deref(),
                &teams,
            )
            .await?,
        );
        Ok(answer)
    }

    /// **Always reject…**: opens the dialog.
    pub(super) async fn open_always_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        let mut state = Map::new();
        state.insert("kind".into(), json!(ALWAYS_DIALOG));
        state.insert("request".into(), json!(request.id));
        state.insert("user".into(), json!(click.user_id));
        let state = Value::Object(ctx.signer.seal(state));
        ctx.client
            .open_dialog(&OpenDialogRequest {
                trigger_id: click.trigger_id.clone(),
                url: ctx.dialogs_url.clone(),
                dialog: always_dialog(request, state.to_string()),
            })
            .await?;
        Ok(PostActionIntegrationResponse::default())
    }

    /// The dialog's submission, its seal already opened for `user`.
    pub(super) async fn always_dialog_submitted(
        &self,
        submit: &SubmitDialogRequest,
        request_id: &str,
    ) -> Result<SubmitDialogResponse, ReviewError> {
        let ctx = &*self.ctx;
        let refuse = |error: &str| SubmitDialogResponse {
            error: error.into(),
            ..Default::default()
        };
        let field_error = |name: &str, message: String| {
            let mut answer = SubmitDialogResponse::default();
            answer.errors.insert(name.into(), message);
            answer
        };
        if !ctx.is_admin_now(&submit.user_id).await? {
            return Ok(refuse(
                "Only system admins can write rules. Nothing was changed.",
            ));
        }
        let Some(request) = ctx.store.request(request_id).await? else {
            return Ok(refuse(
                "This request no longer exists. Nothing was changed.",
            ));
        };
        let pattern = text(&submit.submission, "pattern")
            .map(str::trim)
            .unwrap_or_default();
        if let Err(why) = Pattern::new(pattern) {
            return Ok(field_error("pattern", why));
        }
        let reason = text(&submit.submission, "reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > REASON_MAX)
        {
            return Ok(field_error(
                "reason",
                format!("At most {REASON_MAX} characters."),
            ));
        }
        let added = self
            .add_reject_rule(&request, pattern, reason, &submit.user_id)
            .await?;
        if let Err(err) = ctx
            .poster
            .ephemeral_direct_message(&submit.user_id, added)
            .await
        {
            tracing::warn!("cannot confirm a new rule to its author: {err}");
        }
        Ok(SubmitDialogResponse::default())
    }

    /// Adds a reject rule for `pattern` on the request's connection, made by `by`; every copy
    /// of the request is brought up to date. Returns the line the admin is answered.
    async fn add_reject_rule(
        &self,
        request: &ReviewRequest,
        pattern: &str,
        reason: Option<String>,
        by: &str,
    ) -> Result<String, ReviewError> {
        let ctx = &*self.ctx;
        let remote = match ctx.client.get_remote_cluster(&request.remote_id).await {
            Ok(rc) if rc.delete_at == 0 => rc,
            Ok(_) => {
                return Ok(format!(
                    "{} is no longer connected: there is nothing to reject. Nothing was changed.",
                    request.org_name
                ))
            }
            Err(e) if e.is_not_found() => {
                return Ok(format!(
                    "{} is no longer connected: there is nothing to reject. Nothing was changed.",
                    request.org_name
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let rules = ctx.store.rules(&remote.remote_id).await?;
        if let Some(same) = rules.iter().find(|r| {
            r.rule.pattern == pattern
                && r.rule.channel_type.is_none()
                && r.rule.display_pattern.is_none()
                && matches!(r.rule.action, RuleAction::Reject { .. })
        }) {
            return Ok(format!(
                "{} already does this. Nothing was changed.",
                super::rules::describe(same, &remote.name)
            ));
        }
        let rule = NewRule {
            remote_id: remote.remote_id.clone(),
            pattern: pattern.to_string(),
            channel_type: None,
            display_pattern: None,
            action: RuleAction::Reject { reason },
            apply_pending: false,
            created_by: by.to_string(),
        };
        let Some(made) = self
            .change_rules(&remote, RuleChange::Add(rule), by)
            .await?
        else {
            return Err(ReviewError::Refused("the rule could not be added".into()));
        };
        let teams = ctx.teams().await.unwrap_or_default();
        let review = self.clone();
        let request = request.clone();
        tokio::spawn(async move {
            apply::refresh_posts(&review.ctx, &request, &teams).await;
        });
        Ok(format!(
            "Added {}: channels named like that from {} are rejected on arrival from now on. `rules {}` lists them.",
            super::rules::describe(&made, &remote.name),
            remote.display_name,
            remote.name
        ))
    }
}
