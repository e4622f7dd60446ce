//! Members' share requests: `share ~channel with <connection>` from someone who is not a
//! system admin asks the approvers, who approve or deny from their DM; `withdraw <n>`; the
//! background pass that finishes what a restart left undone.
//!
//! - [`posts`]: the approvers' DMs, the asker's confirmation and outcome, sent once each.
//! - [`clicks`]: Approve / Deny / Deny with reason… / Withdraw, and the reason dialog.

mod clicks;
mod posts;

#[cfg(test)]
pub(crate) use clicks::reason_dialog;
pub use clicks::SHARE_DIALOG;

use serde_json::json;

use crate::mattermost::models::{Channel, User};
use crate::review::timestamp;
use crate::store::{NewShareRequest, ShareRequest, ShareState};

use super::lookup;
use super::parse::ChannelRef;
use super::sharing::{Sharing, UNSEEN_CHANNEL};
use super::{Asked, CommandError, Commands};

/// The recipient of the asker's confirmation (a reply where they asked).
const ASKER: &str = "asker";
/// The recipient of the asker's DM with the outcome.
const OUTCOME: &str = "outcome";

/// How long another replica may be working on a decision it just won, or on a post it just
/// claimed, before the leader's pass takes the work over. Replicas exist only on PostgreSQL
/// (a second process on one SQLite file is refused), so on SQLite the pass takes it at once.
const IN_FLIGHT_MS: i64 = 15_000;

impl Commands {
    /// [`IN_FLIGHT_MS`] on PostgreSQL, 0 on SQLite.
    fn in_flight_grace(&self) -> i64 {
        match self.ctx.store.dialect() {
            crate::config::Dialect::Postgres => IN_FLIGHT_MS,
            crate::config::Dialect::Sqlite => 0,
        }
    }
}

impl Commands {
    /// Who approves members' share requests: the same people as the review's, the active
    /// humans holding a role of `review.approvers` (system admins by default).
    pub(crate) async fn share_approvers(&self) -> Result<Vec<User>, CommandError> {
        Ok(self.ctx.refresh_admins().await?)
    }

    /// Whether `user_id` may decide a share request now (a role of `review.approvers`),
    /// asked of the server at click time.
    async fn may_approve(&self, user_id: &str) -> Result<bool, CommandError> {
        Ok(self.ctx.is_admin_now(user_id).await?)
    }

    /// `share` from someone who is not a system admin: a share request, its confirmation
    /// posted where they asked, a DM to every approver. `None`: the answer was posted.
    pub(super) async fn request_share(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        with: &str,
        note: Option<&str>,
    ) -> Result<Option<String>, CommandError> {
        let channel = self.requestable(asked, reference).await?;
        if let Some(why) = self.shareable(&channel) {
            return self
                .say(
                    asked,
                    "cannot_share",
                    json!({"channel": channel.name, "message": why}),
                )
                .map(Some);
        }
        let rc = lookup::connection(&self.ctx, with).await?;
        let facts = json!({"channel": channel.name, "org": rc.display_name});
        if self
            .shared_with(&rc.remote_id, false)
            .await?
            .contains(&channel.id)
        {
            return self.say(asked, "share_received", facts).map(Some);
        }
        let waiting = self.ctx.store.waiting_shares(Some(&rc.remote_id)).await?;
        if waiting.iter().any(|w| w.channel_id == channel.id)
            || (rc.is_confirmed() && self.ours_with(&rc.remote_id).await?.contains(&channel.id))
        {
            return self.say(asked, "already_shared", facts).map(Some);
        }
        let note = note.unwrap_or_default();
        let new = NewShareRequest {
            channel_id: &channel.id,
            channel_name: &channel.name,
            remote_id: &rc.remote_id,
            org_name: &rc.display_name,
            asked_by: &asked.user_id,
            asked_in: &asked.channel_id,
            asked_root: &asked.root_id,
            note,
        };
        let detail = json!({"channel": channel.name, "org": rc.display_name, "note": note});
        let request = match self
            .ctx
            .store
            .add_share_request(&new, &detail.to_string())
            .await?
        {
            Ok(request) => request,
            Err(open) => {
                let user = self.ctx.username(&open.asked_by).await;
                return self
                    .say(
                        asked,
                        "share_request_open",
                        json!({"channel": channel.name, "org": rc.display_name,
                               "count": open.number, "user": user}),
                    )
                    .map(Some);
            }
        };
        tracing::info!(request = %request.id, number = request.number, "a member asked to share a channel");
        let _held = self.share_lock.lock().await;
        self.send_confirmation(&request, asked).await?;
        if let Err(err) = self.fan_out(&request).await {
            tracing::warn!(request = %request.id, "cannot send a share request to every approver yet (retried): {err}");
        }
        Ok(None)
    }

    /// The channel a member names, if they may ask for it: one they can see (a member of it,
    /// or of its team when it is public). Anything else gets the answer `info` gives.
    async fn requestable(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
    ) -> Result<Channel, CommandError> {
        let mut seen = Vec::new();
        for channel in lookup::candidates(&self.ctx, reference, &asked.team_id).await? {
            if self.may_see(&asked.user_id, &channel).await? {
                seen.push(channel);
            }
        }
        match seen.len() {
            1 => Ok(seen.remove(0)),
            0 => self.archived_of(asked, reference).await,
            _ => Err(CommandError::NotFound(UNSEEN_CHANNEL.into())),
        }
    }

    /// An archived channel the asker is a member of, by the name they typed (a lookup by name
    /// finds only live channels): such a channel is named, so the answer can say why not.
    async fn archived_of(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
    ) -> Result<Channel, CommandError> {
        let unseen = || CommandError::NotFound(UNSEEN_CHANNEL.into());
        let (team, name) = match reference {
            ChannelRef::Name(text) => (None, text.trim().trim_start_matches('~').to_lowercase()),
            ChannelRef::Link { team, channel } => {
                (Some(team.to_lowercase()), channel.to_lowercase())
            }
        };
        let team_id = match team {
            Some(team) => match lookup::all_teams(&self.ctx)
                .await?
                .into_iter()
                .find(|t| t.name.eq_ignore_ascii_case(&team))
            {
                Some(t) => Some(t.id),
                None => return Err(unseen()),
            },
            None => None,
        };
        let mut archived: Vec<Channel> = self
            .ctx
            .client
            .user_channels_with_archived(&asked.user_id)
            .await?
            .into_iter()
            .filter(|c| c.delete_at != 0)
            .filter(|c| team_id.as_ref().is_none_or(|t| &c.team_id == t))
            .filter(|c| c.name == name || c.display_name.to_lowercase() == name)
            .collect();
        match archived.len() {
            1 => Ok(archived.remove(0)),
            _ => Err(unseen()),
        }
    }

    /// `withdraw <n>`: only the asker, only while pending.
    pub(super) async fn withdraw(
        &self,
        asked: &Asked,
        number: i64,
    ) -> Result<String, CommandError> {
        let request = self
            .ctx
            .store
            .share_request_by_number(number)
            .await?
            .filter(|r| r.asked_by == asked.user_id)
            .ok_or_else(|| {
                CommandError::NotFound(format!("You have no share request #{number}."))
            })?;
        let facts = json!({"channel": request.channel_name, "org": request.org_name,
                           "count": request.number, "state": request.state.as_str()});
        if !self
            .decide_share(&request, ShareState::Withdrawn, &asked.user_id, "")
            .await?
        {
            let now = self.ctx.store.share_request(&request.id).await?;
            let state = now.map(|r| r.state).unwrap_or(request.state);
            let mut facts = facts;
            facts["state"] = json!(state.as_str());
            return self.say(asked, "withdraw_decided", facts);
        }
        self.say(asked, "withdrawn", facts)
    }

    /// The decision `pending → to` by `by`: one conditional update (with its audit entry);
    /// false when another decision came first. The winner finishes the work in the
    /// background (the posts, the share, the asker's DM); a restart finishes it too.
    async fn decide_share(
        &self,
        request: &ShareRequest,
        to: ShareState,
        by: &str,
        reason: &str,
    ) -> Result<bool, CommandError> {
        let detail = json!({"channel": request.channel_name, "org": request.org_name,
                            "number": request.number, "reason": reason});
        let won = self
            .ctx
            .store
            .decide_share_request(&request.id, to, by, reason, &detail.to_string())
            .await?;
        if won {
            tracing::info!(request = %request.id, state = to.as_str(), "a share request was decided");
            let me = self.clone();
            let id = request.id.clone();
            tokio::spawn(async move {
                if let Err(err) = me.finish_share_request(&id).await {
                    tracing::warn!(request = %id, "cannot finish a share request yet (retried): {err}");
                }
            });
        }
        Ok(won)
    }

    /// Finishes every share request with work left (pending ones not sent to every approver,
    /// decided ones whose share, posts or DM are not done): the background pass.
    pub(super) async fn finish_share_requests(&self) -> Result<(), CommandError> {
        let now = crate::ids::now_ms();
        let grace = self.in_flight_grace();
        for request in self.ctx.store.unfinished_share_requests().await? {
            // Decided this moment, on another replica perhaps: that one finishes it first.
            if request.decided_at.is_some_and(|at| now - at < grace) {
                continue;
            }
            let done = if request.state == ShareState::Pending {
                let _held = self.share_lock.lock().await;
                self.fan_out(&request).await
            } else {
                self.finish_share_request(&request.id).await
            };
            if let Err(err) = done {
                tracing::warn!(request = %request.id, "cannot finish a share request yet (retried): {err}");
            }
        }
        Ok(())
    }

    /// A decided request's work, each step done once: the approval's share (through the
    /// path `share` takes), every post brought up to date, the asker told by DM.
    async fn finish_share_request(&self, id: &str) -> Result<(), CommandError> {
        let _held = self.share_lock.lock().await;
        let store = &self.ctx.store;
        let Some(mut request) = store.share_request(id).await? else {
            return Ok(());
        };
        if request.state == ShareState::Pending || request.finished_at.is_some() {
            return Ok(());
        }
        if request.state == ShareState::Approved && request.applied.is_empty() {
            let applied = self.apply_approval(&request).await?;
            store.share_request_applied(&request.id, &applied).await?;
            request.applied = applied;
        }
        self.update_share_posts(&request).await?;
        if request.state != ShareState::Withdrawn {
            self.send_outcome(&request).await?;
        }
        store.share_request_finished(&request.id).await?;
        Ok(())
    }

    /// Shares an approved request's channel as the approver: `shared`, `waiting`, or
    /// `refused: <why>` (the channel or the connection is gone, or Mattermost said no).
    async fn apply_approval(&self, request: &ShareRequest) -> Result<String, CommandError> {
        let by = request.decided_by.clone().unwrap_or_default();
        let channel = match self.ctx.client.get_channel(&request.channel_id).await {
            Ok(channel) => channel,
            Err(e) if e.is_not_found() => {
                return Ok("refused: the channel no longer exists.".into())
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(why) = self.shareable(&channel) {
            return Ok(format!("refused: {why}"));
        }
        let rc = match self.ctx.client.get_remote_cluster(&request.remote_id).await {
            Ok(rc) if rc.delete_at == 0 => rc,
            Ok(_) => return Ok("refused: the connection was disconnected.".into()),
            Err(e) if e.is_not_found() => {
                return Ok("refused: the connection no longer exists.".into())
            }
            Err(e) => return Err(e.into()),
        };
        Ok(match self.share_channel(&channel, &rc, &by).await? {
            Sharing::Now | Sharing::Already => "shared".into(),
            Sharing::Waiting => "waiting".into(),
            Sharing::Received => {
                "refused: the channel came from that organization; there is nothing to share back."
                    .into()
            }
            Sharing::Refused(why) => format!("refused: {why}"),
        })
    }

    /// The facts `share_request.md.j2` shows about a request.
    async fn share_facts(&self, request: &ShareRequest) -> serde_json::Value {
        let ctx = &self.ctx;
        let asker = ctx.username(&request.asked_by).await;
        let by = match &request.decided_by {
            Some(id) => ctx.username(id).await,
            None => String::new(),
        };
        let (applied, refusal) = match request.applied.strip_prefix("refused: ") {
            Some(why) => ("refused", why),
            None => (request.applied.as_str(), ""),
        };
        json!({
            "asker": asker, "channel": request.channel_name, "org": request.org_name,
            "number": request.number, "note": request.note, "state": request.state.as_str(),
            "applied": applied, "refusal": refusal, "reason": request.reason, "by": by,
            "at": request.decided_at.map(timestamp).unwrap_or_default(),
            "display": request.channel_name, "channel_type": "", "members": 0, "guests": false,
            "remote": false, "purpose": "", "shared_with": "", "mention": "",
        })
    }

    /// What an approver is shown about the channel: its type, purpose, member count, whether
    /// it has guests or members of other organizations, and with whom it is shared already.
    async fn channel_facts(&self, request: &ShareRequest, facts: &mut serde_json::Value) {
        let client = &self.ctx.client;
        if let Ok(channel) = client.get_channel(&request.channel_id).await {
            facts["display"] = json!(channel.display_name);
            facts["purpose"] = json!(channel.purpose);
            facts["channel_type"] = json!(match channel.channel_type.as_str() {
                "P" => "private channel",
                _ => "public channel",
            });
        }
        match client.active_users_in_channel(&request.channel_id).await {
            Ok(users) => {
                let people: Vec<&User> = users.iter().filter(|u| u.is_active()).collect();
                facts["members"] = json!(people.len());
                facts["guests"] = json!(people
                    .iter()
                    .any(|u| u.roles.split_whitespace().any(|r| r == "system_guest")));
                facts["remote"] = json!(people
                    .iter()
                    .any(|u| u.remote_id.as_deref().is_some_and(|r| !r.is_empty())));
            }
            Err(err) => tracing::debug!("cannot count a channel's members: {}", err.user_message()),
        }
        if let Ok(connections) = lookup::connections(&self.ctx).await {
            let mut with = Vec::new();
            for rc in connections.iter().filter(|rc| rc.is_confirmed()) {
                if let Ok(ours) = self.ours_with(&rc.remote_id).await {
                    if ours.contains(&request.channel_id) {
                        with.push(format!("**{}**", rc.display_name.replace('*', "\\*")));
                    }
                }
            }
            facts["shared_with"] = json!(with.join(", "));
        }
    }

    /// The share requests waiting for a decision, for `pending`: `None` when there are none.
    pub(super) async fn pending_share_list(
        &self,
        asked: &Asked,
    ) -> Result<Option<String>, CommandError> {
        let waiting = self.ctx.store.pending_share_requests().await?;
        if waiting.is_empty() {
            return Ok(None);
        }
        let now = crate::ids::now_ms();
        let mut rows = Vec::new();
        for r in &waiting {
            let minutes = (now - r.created_at).max(0) / 60_000;
            let ago = match minutes {
                0 => "just now".to_string(),
                m if m < 120 => format!("{m} min ago"),
                m => format!("{} h ago", m / 60),
            };
            rows.push(
                json!({"number": r.number, "channel": r.channel_name, "org": r.org_name,
                "asker": self.ctx.username(&r.asked_by).await, "ago": ago, "note": r.note}),
            );
        }
        self.say(asked, "share_requests_pending", json!({ "requests": rows }))
            .map(Some)
    }
}
