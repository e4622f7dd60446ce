//! Button, menu and dialog callbacks from Mattermost. Nothing here is trusted until it
//! checks out: the context's signature (for this request, action and recipient), the post
//! (one of this request's posts, to that recipient), and the clicking user (a system admin
//! now, asked of the server). The answer is quick and local; Mattermost work happens after.

use serde_json::{json, Map, Value};

use crate::http::{ephemeral, field as text, CallbackRefusal};
use crate::mattermost::models::{
    Dialog, DialogElement, OpenDialogRequest, PostActionIntegrationRequest,
    PostActionIntegrationResponse, PostActionOption, SubmitDialogRequest, SubmitDialogResponse,
    Team,
};
use crate::store::{
    Claim, Decider, Decision, How, NotificationPost, RequestState, ReviewRequest, Verdict,
};

use super::context::{find_team, team_name};
use super::message::{
    render, timestamp, ACCEPT, ALWAYS_DIALOG, ALWAYS_REJECT, ALWAYS_REJECT_EDIT, CHOOSE, REJECT,
    REJECT_REASON, RELOCATE, REVIEW_BUTTON, REVIEW_DIALOG, REVIEW_REJECT_DIALOG, TEAM_MENU,
};
use super::reject::REASON_MAX;
use super::signing::Unsealed;
use super::{Review, ReviewError};

/// The dialog's callback id.
const DIALOG_CALLBACK: &str = "sharebot_accept";
/// The longest note (an accept's reason) kept with a decision: as long as a reject's reason.
const NOTE_MAX: usize = REASON_MAX;

/// How a seal that does not open is answered: 400 without one, 403 with a bad one.
pub(crate) fn refusal(why: Unsealed) -> CallbackRefusal {
    match why {
        Unsealed::Missing => CallbackRefusal::Unsigned,
        Unsealed::UnknownKey { .. } | Unsealed::Altered { .. } => CallbackRefusal::Forged,
    }
}

/// The **Choose team…** dialog: the team select (preset to `suggested` when it is listed)
/// and an optional note.
pub(crate) fn team_dialog(
    introduction_text: String,
    teams: &[Team],
    suggested: Option<&str>,
    state: String,
) -> Dialog {
    let default = suggested
        .filter(|id| teams.iter().any(|t| t.id == *id))
        .unwrap_or_default()
        .to_string();
    Dialog {
        callback_id: DIALOG_CALLBACK.into(),
        title: "Accept shared channel".into(),
        introduction_text,
        elements: vec![
            DialogElement {
                display_name: "Team".into(),
                name: "team".into(),
                element_type: "select".into(),
                default,
                options: teams
                    .iter()
                    .map(|t| PostActionOption {
                        text: t.display_name.clone(),
                        value: t.id.clone(),
                    })
                    .collect(),
                help_text: "Every member of the channel joins this team.".into(),
                ..DialogElement::default()
            },
            DialogElement {
                display_name: "Reason".into(),
                name: "note".into(),
                element_type: "textarea".into(),
                optional: true,
                max_length: Some(NOTE_MAX as u32),
                help_text: "Why this team: kept in the audit log and shown to the other admins."
                    .into(),
                ..DialogElement::default()
            },
        ],
        submit_label: "Accept".into(),
        state,
        ..Dialog::default()
    }
}

impl Review {
    fn reply(
        &self,
        request: &ReviewRequest,
        reply: &str,
        extra: Value,
    ) -> PostActionIntegrationResponse {
        let mut context = json!({"reply": reply, "team": "", "state": request.state.as_str(), "by": "", "at": "", "reason": "", "approvers": self.ctx.approvers_phrase()});
        if let (Value::Object(c), Value::Object(e)) = (&mut context, extra) {
            c.extend(e);
        }
        match render(&self.ctx, "callback_reply.md.j2", request, context) {
            Ok(text) => ephemeral(text),
            Err(err) => {
                tracing::error!("{err}");
                ephemeral("Something went wrong on my side. Nothing was changed.".into())
            }
        }
    }

    /// A button or menu click.
    pub async fn action(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Result<PostActionIntegrationResponse, CallbackRefusal> {
        self.ctx.signer.open(&click.context).map_err(refusal)?;
        let (Some(REVIEW_BUTTON), Some(request_id), Some(action), Some(recipient)) = (
            text(&click.context, "kind"),
            text(&click.context, "request"),
            text(&click.context, "action"),
            text(&click.context, "recipient"),
        ) else {
            return Err(CallbackRefusal::Forged);
        };
        match self
            .checked_action(&click, request_id, action, recipient)
            .await
        {
            Ok(answer) => Ok(answer),
            Err(err) => {
                tracing::warn!(request = request_id, action, "callback failed: {err}");
                Ok(ephemeral(format!(
                    "Something went wrong on my side ({}). Nothing was changed; try again in a minute.",
                    err.user_message()
                )))
            }
        }
    }

    async fn checked_action(
        &self,
        click: &PostActionIntegrationRequest,
        request_id: &str,
        action: &str,
        recipient: &str,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        let Some(request) = ctx.store.request(request_id).await? else {
            return Ok(ephemeral(
                "This request no longer exists. Nothing was changed.".into(),
            ));
        };
        // The click must come from the very post the context was made for.
        let notification = ctx.store.notification_by_post(&click.post_id).await?;
        let Some(notification) =
            notification.filter(|n| n.request_id == request.id && n.admin_user_id == recipient)
        else {
            return Ok(self.reply(&request, "invalid", json!({})));
        };
        // A DM's buttons are for its admin; a channel notice's for any admin.
        if notification.kind == "dm" && click.user_id != recipient {
            return Ok(self.reply(&request, "not_admin", json!({})));
        }
        if !ctx.is_admin_now(&click.user_id).await? {
            // A team admin decides only for the teams they administer, asked now.
            let team = match action {
                TEAM_MENU => text(&click.context, "selected_option").map(str::to_string),
                ACCEPT => notification
                    .chosen_team_id
                    .clone()
                    .or(request.suggested_team_id.clone()),
                REJECT | REJECT_REASON | CHOOSE => request.suggested_team_id.clone(),
                _ => None,
            };
            let allowed = match team.as_deref() {
                Some(team) if ctx.config.team_admins => {
                    ctx.is_team_admin_now(&click.user_id, team).await?
                }
                _ => false,
            };
            if !allowed {
                return self.not_allowed(&request, team.as_deref()).await;
            }
        }
        match action {
            TEAM_MENU => self.choose_from_menu(click, &request, &notification).await,
            ACCEPT => {
                let team = notification
                    .chosen_team_id
                    .clone()
                    .or(request.suggested_team_id.clone());
                let teams = ctx.teams().await?;
                match find_team(&teams, team.as_deref()) {
                    Some(team) => {
                        let claim = Claim {
                            verdict: Verdict::Accept,
                            how: How::Click,
                            by: Decider::Admin(click.user_id.clone()),
                            team_id: Some(&team.id),
                            note: None,
                        };
                        Ok(self.claim(&request, &claim, &team.display_name).await?.1)
                    }
                    None => Ok(ephemeral("Pick a team in the menu first (or use **Choose team…**). Nothing was changed.".into())),
                }
            }
            REJECT => {
                let claim = Claim {
                    verdict: Verdict::Reject,
                    how: How::Click,
                    by: Decider::Admin(click.user_id.clone()),
                    team_id: None,
                    note: None,
                };
                Ok(self.claim(&request, &claim, "").await?.1)
            }
            CHOOSE => self.open_team_dialog(click, &request).await,
            REJECT_REASON => self.open_reject_dialog(click, &request).await,
            RELOCATE => self.relocate_from_menu(click, &request).await,
            ALWAYS_REJECT => self.always_reject(click, &request, &notification).await,
            ALWAYS_REJECT_EDIT => self.open_always_dialog(click, &request).await,
            _ => Ok(self.reply(&request, "invalid", json!({}))),
        }
    }

    /// The refusal of a click by someone who may not decide (into `team`, for a team admin).
    async fn not_allowed(
        &self,
        request: &ReviewRequest,
        team: Option<&str>,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        if !ctx.config.team_admins {
            return Ok(self.reply(request, "not_admin", json!({})));
        }
        let name = team_name(&ctx.teams().await?, team);
        Ok(ephemeral(if name.is_empty() {
            format!(
                "Only {} and the admins of the team a request is for can decide it. Nothing was changed.",
                ctx.approvers_phrase()
            )
        } else {
            format!("You do not administer **{name}**, so you cannot decide for it. Nothing was changed.")
        }))
    }

    /// Claims the decision and applies it in the background; true with the answer when this
    /// call won it.
    async fn claim(
        &self,
        request: &ReviewRequest,
        claim: &Claim<'_>,
        team_name: &str,
    ) -> Result<(bool, PostActionIntegrationResponse), ReviewError> {
        match self.begin(&request.id, claim).await? {
            Decision::Made(made) => {
                let reply = match claim.verdict {
                    Verdict::Accept => "accepting",
                    Verdict::Reject => "rejecting",
                    // Never claimed: a relocation has its own record, a withdrawal is final.
                    Verdict::Relocate => "relocating",
                    Verdict::Withdraw => "already",
                };
                Ok((true, self.reply(&made, reply, json!({"team": team_name}))))
            }
            Decision::AlreadyDecided(current) => Ok((false, self.already(&current).await?)),
            Decision::NotFound => Ok((
                false,
                ephemeral("This request no longer exists. Nothing was changed.".into()),
            )),
        }
    }

    /// "Already accepted into X by @who at time" (or being decided by someone).
    pub(super) async fn already(
        &self,
        current: &ReviewRequest,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        let team = team_name(&ctx.teams().await?, current.team_id.as_deref());
        let by = match &current.decided_by {
            Some(decider) => ctx.username(decider.as_str()).await,
            None => String::new(),
        };
        let at = current.decided_at.map(timestamp).unwrap_or_default();
        let reply = if current.deciding.is_some() {
            "in_progress"
        } else {
            "already"
        };
        Ok(self.reply(current, reply, json!({"team": team, "by": by, "at": at})))
    }

    /// The team menu: remembers this admin's pick and shows it in the menu.
    async fn choose_from_menu(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
        notification: &NotificationPost,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        if request.state != RequestState::Pending || request.deciding.is_some() {
            return self.already(request).await;
        }
        let teams = ctx.teams().await?;
        let Some(team) = find_team(&teams, text(&click.context, "selected_option")) else {
            return Ok(self.reply(request, "unknown_team", json!({})));
        };
        ctx.store
            .choose_team(&request.id, &notification.admin_user_id, &team.id)
            .await?;
        let post = ctx
            .request_post(request, &notification.admin_user_id, Some(&team.id), &teams)
            .await?;
        // The server applies this update after the answer, maybe after a decision made
        // meanwhile was shown on this post: the post is recorded as showing the pending
        // request, so the reconcile shows the outcome again should the update land last.
        ctx.store
            .mark_shown(
                &request.id,
                &notification.admin_user_id,
                &request.shown_key(),
            )
            .await?;
        // A decision claimed since the request was read gets no pending post.
        match ctx.store.request(&request.id).await? {
            Some(now) if now.state == RequestState::Pending && now.deciding.is_none() => {}
            Some(now) => return self.already(&now).await,
            None => return self.already(request).await,
        }
        let mut answer = self.reply(request, "chosen", json!({"team": team.display_name}));
        answer.update = Some(post);
        Ok(answer)
    }

    /// **Choose team…**: a dialog with the team select and an optional note.
    async fn open_team_dialog(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        if request.state != RequestState::Pending || request.deciding.is_some() {
            return self.already(request).await;
        }
        let teams = ctx.menu_teams(&click.user_id, &ctx.teams().await?).await?;
        let mut state = Map::new();
        state.insert("kind".into(), json!(REVIEW_DIALOG));
        state.insert("request".into(), json!(request.id));
        state.insert("user".into(), json!(click.user_id));
        let state = Value::Object(ctx.signer.seal(state));
        let intro = render(
            ctx,
            "callback_reply.md.j2",
            request,
            json!({"reply": "chosen", "team": "the team below", "state": "", "by": "", "at": "", "reason": "", "approvers": ""}),
        )?;
        let dialog = OpenDialogRequest {
            trigger_id: click.trigger_id.clone(),
            url: ctx.dialogs_url.clone(),
            dialog: team_dialog(
                intro,
                &teams,
                request.suggested_team_id.as_deref(),
                state.to_string(),
            ),
        };
        ctx.client.open_dialog(&dialog).await?;
        Ok(PostActionIntegrationResponse::default())
    }

    /// The relocate menu of an accepted channel.
    async fn relocate_from_menu(
        &self,
        click: &PostActionIntegrationRequest,
        request: &ReviewRequest,
    ) -> Result<PostActionIntegrationResponse, ReviewError> {
        let ctx = &*self.ctx;
        // The copies show an accept as soon as the channel is placed, while its last steps
        // (the deciding admin's join, the records) finish: a move asked then runs after them.
        let finishing = request.state == RequestState::Pending
            && request.deciding == Some(Verdict::Accept)
            && self.is_applying(&request.id);
        if request.state != RequestState::Accepted && !finishing {
            return Ok(self.reply(request, "not_accepted", json!({})));
        }
        let teams = ctx.teams().await?;
        let Some(team) = find_team(&teams, text(&click.context, "selected_option")) else {
            return Ok(self.reply(request, "unknown_team", json!({})));
        };
        if request.team_id.as_deref() == Some(team.id.as_str()) {
            return Ok(self.reply(request, "same_team", json!({"team": team.display_name})));
        }
        if finishing {
            self.spawn_relocate_after_decision(
                request.id.clone(),
                team.id.clone(),
                click.user_id.clone(),
            );
            return Ok(self.reply(request, "relocating", json!({"team": team.display_name})));
        }
        if self.is_applying(&request.id) {
            return self.already(request).await;
        }
        self.spawn_relocate(request.clone(), team.id.clone(), click.user_id.clone());
        Ok(self.reply(request, "relocating", json!({"team": team.display_name})))
    }

    /// A dialog submission (Accept with a team and a note).
    pub async fn dialog(
        &self,
        submit: SubmitDialogRequest,
    ) -> Result<SubmitDialogResponse, CallbackRefusal> {
        let state: Map<String, Value> = serde_json::from_str(&submit.state).unwrap_or_default();
        self.ctx.signer.open(&state).map_err(refusal)?;
        let (
            Some(kind @ (REVIEW_DIALOG | REVIEW_REJECT_DIALOG | ALWAYS_DIALOG)),
            Some(request_id),
            Some(user),
        ) = (
            text(&state, "kind"),
            text(&state, "request"),
            text(&state, "user"),
        )
        else {
            return Err(CallbackRefusal::Forged);
        };
        if submit.cancelled {
            return Ok(SubmitDialogResponse::default());
        }
        let refuse = |error: &str| SubmitDialogResponse {
            error: error.into(),
            ..Default::default()
        };
        // The dialog was opened for one admin; only the session's user id is trustworthy.
        if submit.user_id != user {
            return Ok(refuse(
                "This dialog was opened for someone else. Nothing was changed.",
            ));
        }
        let checked = if kind == ALWAYS_DIALOG {
            self.always_dialog_submitted(&submit, request_id).await
        } else {
            self.checked_dialog(&submit, request_id, kind).await
        };
        match checked {
            Ok(answer) => Ok(answer),
            Err(err) => {
                tracing::warn!(request = request_id, "dialog failed: {err}");
                Ok(refuse(&format!(
                    "Something went wrong on my side ({}). Nothing was changed.",
                    err.user_message()
                )))
            }
        }
    }

    async fn checked_dialog(
        &self,
        submit: &SubmitDialogRequest,
        request_id: &str,
        kind: &str,
    ) -> Result<SubmitDialogResponse, ReviewError> {
        let ctx = &*self.ctx;
        let refuse = |error: String| SubmitDialogResponse {
            error,
            ..Default::default()
        };
        let approver = ctx.is_admin_now(&submit.user_id).await?;
        if !approver && !ctx.config.team_admins {
            return Ok(refuse(format!(
                "Only {} can decide about shared channels. Nothing was changed.",
                ctx.approvers_phrase()
            )));
        }
        let Some(request) = ctx.store.request(request_id).await? else {
            return Ok(refuse(
                "This request no longer exists. Nothing was changed.".into(),
            ));
        };
        // A team admin: into (or, rejecting, for) a team they administer, asked now.
        let team_admin_may = |team: Option<String>| async move {
            match team {
                Some(team) => ctx.is_team_admin_now(&submit.user_id, &team).await,
                None => Ok(false),
            }
        };
        let decides_for = if kind == REVIEW_REJECT_DIALOG {
            request.suggested_team_id.clone()
        } else {
            text(&submit.submission, "team").map(str::to_string)
        };
        if !approver && !team_admin_may(decides_for.clone()).await? {
            return Ok(refuse(
                self.not_allowed(&request, decides_for.as_deref())
                    .await?
                    .ephemeral_text,
            ));
        }
        if kind == REVIEW_REJECT_DIALOG {
            return self.rejected_in_dialog(submit, &request).await;
        }
        let teams = ctx.teams().await?;
        let Some(team) = find_team(&teams, text(&submit.submission, "team")) else {
            let mut answer = SubmitDialogResponse::default();
            answer
                .errors
                .insert("team".into(), "Pick one of the listed teams.".into());
            return Ok(answer);
        };
        let note = text(&submit.submission, "note")
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > NOTE_MAX) {
            let mut answer = SubmitDialogResponse::default();
            answer
                .errors
                .insert("note".into(), format!("At most {NOTE_MAX} characters."));
            return Ok(answer);
        }
        let claim = Claim {
            verdict: Verdict::Accept,
            how: How::Dialog,
            by: Decider::Admin(submit.user_id.clone()),
            team_id: Some(&team.id),
            note,
        };
        match self.claim(&request, &claim, &team.display_name).await? {
            (true, _) => Ok(SubmitDialogResponse::default()),
            (false, answer) => Ok(refuse(answer.ephemeral_text)),
        }
    }
}
