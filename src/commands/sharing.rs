//! Commands about shared channels and who is who: `share`, `unshare`, `shared`, `info`,
//! `whois`.

use std::collections::HashMap;

use serde_json::json;

use crate::mattermost::models::{
    Channel, MessageAttachment, PostActionIntegrationRequest, PostActionIntegrationResponse,
    RemoteCluster, SharedChannelRemoteFilter, Team,
};
use crate::review::timestamp;
use crate::store::{Decider, RequestState, ReviewRequest};

use super::buttons;
use super::lookup;
use super::parse::ChannelRef;
use super::{Asked, CommandError, Commands};

/// The one answer `info` gives someone who may not see a channel, whether it does not exist,
/// is hidden from them, or the name fits several.
pub(super) const UNSEEN_CHANNEL: &str = "I can't find that channel among those you can see. Use `~channel-name` or paste the channel's link.";

/// How a share went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sharing {
    /// Shared now.
    Now,
    /// Waiting for the connection to be accepted.
    Waiting,
    /// It was shared with that connection already.
    Already,
    /// The channel came from that connection: nothing to share back.
    Received,
    /// Mattermost refused (its words).
    Refused(String),
}

/// "accepted into Marketing", "waiting for review", … for a received channel's request.
fn request_state(request: &ReviewRequest, teams: &HashMap<String, String>) -> String {
    let team = request
        .team_id
        .as_ref()
        .and_then(|t| teams.get(t))
        .cloned()
        .unwrap_or_default();
    match request.state {
        RequestState::Pending if request.deciding.is_some() => "being decided".into(),
        RequestState::Pending => "waiting for review".into(),
        RequestState::Accepted if team.is_empty() => "accepted".into(),
        RequestState::Accepted => format!("accepted into {team}"),
        RequestState::Rejected => "rejected".into(),
        RequestState::Withdrawn => "withdrawn by them".into(),
    }
}

/// What the Unshare / Keep buttons of a received channel act on: the channel and the
/// connection it came from (both ids are alphanumeric, so `:` separates them).
fn received_subject(channel_id: &str, remote_id: &str) -> String {
    format!("{channel_id}:{remote_id}")
}

fn team_names(teams: &[Team]) -> HashMap<String, String> {
    teams
        .iter()
        .map(|t| (t.id.clone(), t.display_name.clone()))
        .collect()
}

impl Commands {
    /// "declined by @alice at 2026-11-26 10:42 UTC" (or "expired … at …") for a rejected
    /// request: a declined channel is archived, so this is what is left to say about it.
    async fn declined(&self, request: &ReviewRequest) -> String {
        let at = request.decided_at.map(timestamp).unwrap_or_default();
        let mut text = match &request.decided_by {
            Some(Decider::Sharebot) => {
                "declined automatically (nobody decided in time)".to_string()
            }
            Some(Decider::Admin(id)) => format!("declined by @{}", self.ctx.username(id).await),
            None => "declined".to_string(),
        };
        if !at.is_empty() {
            text.push_str(&format!(" at {at}"));
        }
        text
    }

    /// `info` about a channel that was declined (archived, so no lookup finds it), for admins
    /// and the channel's members only; `None` when there is none or the asker may not see it.
    async fn info_declined(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
    ) -> Result<Option<String>, CommandError> {
        let (team, name) = match reference {
            ChannelRef::Name(text) => (None, text.trim().trim_start_matches('~')),
            ChannelRef::Link { team, channel } => (Some(team), channel.as_str()),
        };
        let Some(request) = self
            .ctx
            .store
            .request_by_channel_name(name)
            .await?
            .filter(|r| r.state == RequestState::Rejected)
        else {
            return Ok(None);
        };
        let channel = self.ctx.client.get_channel(&request.channel_id).await.ok();
        if let Some(team) = team {
            let teams = lookup::all_teams(&self.ctx).await?;
            let in_team = channel.as_ref().is_some_and(|c| {
                teams
                    .iter()
                    .any(|t| t.id == c.team_id && t.name.eq_ignore_ascii_case(team))
            });
            if !in_team {
                return Ok(None);
            }
        }
        let member = || async {
            self.ctx
                .client
                .channel_member(&request.channel_id, &asked.user_id)
                .await
                .is_ok()
        };
        if !self.ctx.is_admin_now(&asked.user_id).await? && !member().await {
            return Ok(None);
        }
        let org = lookup::connections(&self.ctx)
            .await?
            .into_iter()
            .find(|rc| rc.remote_id == request.remote_id)
            .map(|rc| rc.display_name)
            .unwrap_or_else(|| request.org_name.clone());
        let facts = json!({
            "channel": request.channel_display_name,
            "name": channel.map(|c| c.name).unwrap_or_else(|| request.channel_name.clone()),
            "org": org,
            "state": self.declined(&request).await,
            "message": request.note.clone().unwrap_or_default(),
        });
        self.say(asked, "info_declined", facts).map(Some)
    }

    /// The ids of the channels shared with a connection: ours (`home`), or theirs.
    pub(super) async fn shared_with(
        &self,
        remote_id: &str,
        home: bool,
    ) -> Result<Vec<String>, CommandError> {
        Ok(self
            .ctx
            .client
            .shared_channel_remotes(
                remote_id,
                &SharedChannelRemoteFilter {
                    exclude_remote: home,
                    exclude_home: !home,
                    ..SharedChannelRemoteFilter::default()
                },
            )
            .await?
            .into_iter()
            .map(|scr| scr.channel_id)
            .collect())
    }

    pub(super) async fn ours_with(&self, remote_id: &str) -> Result<Vec<String>, CommandError> {
        self.shared_with(remote_id, true).await
    }

    /// A channel that can be shared: not a DM or group message, not archived, not the admin
    /// channel (its posts carry the signed buttons of every command and review).
    pub(super) fn shareable(&self, channel: &Channel) -> Option<&'static str> {
        match channel.channel_type.as_str() {
            "D" | "G" => {
                Some("direct and group messages are shared automatically, not by command.")
            }
            _ if channel.id == self.ctx.places.admin_channel.id => Some(
                "it is the admin channel, where connections are managed and requests decided; it stays on this server.",
            ),
            _ if channel.delete_at != 0 => Some("it is archived."),
            _ => None,
        }
    }

    /// `share ~channel with <connection>` by a system admin: at once.
    pub(super) async fn share(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        with: &str,
    ) -> Result<String, CommandError> {
        let channel = lookup::channel(&self.ctx, reference, &asked.team_id).await?;
        let rc = lookup::connection(&self.ctx, with).await?;
        let facts = json!({"channel": channel.name, "org": rc.display_name});
        if let Some(why) = self.shareable(&channel) {
            return self.say(
                asked,
                "cannot_share",
                json!({"channel": channel.name, "message": why}),
            );
        }
        let reply = match self.share_channel(&channel, &rc, &asked.user_id).await? {
            Sharing::Now => "shared",
            Sharing::Waiting => "share_waiting",
            Sharing::Already => "already_shared",
            Sharing::Received => "share_received",
            Sharing::Refused(why) => {
                return self.say(
                    asked,
                    "cannot_share",
                    json!({"channel": channel.name, "message": why}),
                )
            }
        };
        self.say(asked, reply, facts)
    }

    /// Shares `channel` with `rc` for `by` (an admin, or the approver of a member's request):
    /// now when the connection is confirmed, else once it is. The one path every share takes.
    pub(super) async fn share_channel(
        &self,
        channel: &Channel,
        rc: &RemoteCluster,
        by: &str,
    ) -> Result<Sharing, CommandError> {
        // The server answers "OK" to sharing a channel with the connection it came from, and
        // nothing changes: say what is true instead.
        if self
            .shared_with(&rc.remote_id, false)
            .await?
            .contains(&channel.id)
        {
            return Ok(Sharing::Received);
        }
        let store = &self.ctx.store;
        if !rc.is_confirmed() {
            store
                .add_waiting_share(&rc.remote_id, &channel.id, by)
                .await?;
            return Ok(Sharing::Waiting);
        }
        if self.ours_with(&rc.remote_id).await?.contains(&channel.id) {
            return Ok(Sharing::Already);
        }
        if let Err(e) = self
            .ctx
            .client
            .invite_remote_to_channel(&rc.remote_id, &channel.id)
            .await
        {
            if e.status().is_some_and(|s| (400..500).contains(&s)) {
                return Ok(Sharing::Refused(e.user_message()));
            }
            return Err(e.into());
        }
        store
            .audit(
                by,
                "channel.shared",
                &channel.id,
                &json!({"channel": channel.name, "org": rc.display_name}).to_string(),
            )
            .await?;
        Ok(Sharing::Now)
    }

    /// `unshare ~channel from <connection>`: stops the sync with that connection (a share
    /// still waiting is simply dropped). For a channel that came from that connection it cuts
    /// off our copy, so it asks first (`None`: the question was posted with its buttons).
    pub(super) async fn unshare(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        from: &str,
    ) -> Result<Option<String>, CommandError> {
        let channel = lookup::channel(&self.ctx, reference, &asked.team_id).await?;
        let rc = lookup::connection(&self.ctx, from).await?;
        if self
            .shared_with(&rc.remote_id, false)
            .await?
            .contains(&channel.id)
        {
            self.offer_unshare_received(asked, &channel, &rc).await?;
            return Ok(None);
        }
        self.unshare_ours(asked, &channel, &rc).await.map(Some)
    }

    /// Unshares a channel of ours from a connection.
    async fn unshare_ours(
        &self,
        asked: &Asked,
        channel: &Channel,
        rc: &RemoteCluster,
    ) -> Result<String, CommandError> {
        let facts = json!({"channel": channel.name, "org": rc.display_name});
        let store = &self.ctx.store;
        let was_waiting = store
            .remove_waiting_share(&rc.remote_id, &channel.id)
            .await?;
        let was_shared = if rc.is_confirmed() {
            self.ctx
                .client
                .uninvite_remote_from_channel(&rc.remote_id, &channel.id)
                .await?
        } else {
            false
        };
        if !was_waiting && !was_shared {
            return self.say(asked, "not_shared", facts);
        }
        store
            .audit(
                &asked.user_id,
                "channel.unshared",
                &channel.id,
                &json!({"channel": channel.name, "org": rc.display_name}).to_string(),
            )
            .await?;
        self.say(asked, "unshared", facts)
    }

    /// `unshare` of a channel received from `rc`: what it does, and Unshare / Keep buttons.
    async fn offer_unshare_received(
        &self,
        asked: &Asked,
        channel: &Channel,
        rc: &RemoteCluster,
    ) -> Result<(), CommandError> {
        let text = self.say(
            asked,
            "unshare_received_confirm",
            json!({"channel": channel.name, "org": rc.display_name}),
        )?;
        let subject = received_subject(&channel.id, &rc.remote_id);
        let reply = super::Reply {
            text: String::new(),
            attachments: vec![MessageAttachment {
                fallback: format!("Cut off ~{} from {}?", channel.name, rc.display_name),
                color: "#d24b4e".into(),
                text,
                actions: vec![
                    self.button(
                        buttons::UNSHARE_RECEIVED,
                        "Unshare our copy",
                        "danger",
                        &subject,
                        asked,
                    ),
                    self.button(buttons::KEEP_RECEIVED, "Keep", "default", &subject, asked),
                ],
                ..MessageAttachment::default()
            }],
        };
        self.post_answer(asked, reply).await;
        Ok(())
    }

    /// The confirmed `unshare` of a received channel (`keep`: the Keep button): our copy stops
    /// syncing with the organization it came from, or nothing changes.
    pub(super) async fn unshare_received_confirmed(
        &self,
        click: &PostActionIntegrationRequest,
        subject: &str,
        keep: bool,
        asked: &Asked,
    ) -> Result<PostActionIntegrationResponse, CommandError> {
        let refused = |text: &str| {
            Ok(PostActionIntegrationResponse {
                ephemeral_text: text.into(),
                ..Default::default()
            })
        };
        let Some((channel_id, remote_id)) = subject.split_once(':') else {
            return refused("This button is not valid. Nothing was changed.");
        };
        let channel = match self.ctx.client.get_channel(channel_id).await {
            Ok(channel) => channel,
            Err(e) if e.is_not_found() => {
                return refused("That channel no longer exists. Nothing was changed.")
            }
            Err(e) => return Err(e.into()),
        };
        let rc = match self.ctx.client.get_remote_cluster(remote_id).await {
            Ok(rc) if rc.delete_at == 0 => rc,
            Ok(_) => return refused("That connection was disconnected. Nothing was changed."),
            Err(e) if e.is_not_found() => {
                return refused("That connection no longer exists. Nothing was changed.")
            }
            Err(e) => return Err(e.into()),
        };
        let by = self.ctx.username(&click.user_id).await;
        let facts = json!({"channel": channel.name, "org": rc.display_name, "by": by});
        if keep {
            let text = self.say(asked, "unshare_received_kept", facts)?;
            return Ok(PostActionIntegrationResponse {
                update: Some(super::connections::outcome_post(text, "#8a8a8a")),
                ..Default::default()
            });
        }
        let was_shared = self
            .ctx
            .client
            .uninvite_remote_from_channel(&rc.remote_id, &channel.id)
            .await?;
        let reply = if was_shared {
            self.ctx
                .store
                .audit(
                    &click.user_id,
                    "channel.unshared",
                    &channel.id,
                    &json!({"channel": channel.name, "org": rc.display_name, "received": true})
                        .to_string(),
                )
                .await?;
            "unshared_received"
        } else {
            "not_shared"
        };
        let text = self.say(asked, reply, facts)?;
        Ok(PostActionIntegrationResponse {
            update: Some(super::connections::outcome_post(text, "#8a8a8a")),
            ..Default::default()
        })
    }

    /// `shared [<connection>]`: both directions.
    pub(super) async fn shared(
        &self,
        _asked: &Asked,
        name: Option<&str>,
    ) -> Result<String, CommandError> {
        let connections: Vec<RemoteCluster> = match name {
            Some(name) => vec![lookup::connection(&self.ctx, name).await?],
            None => lookup::connections(&self.ctx).await?,
        };
        let teams = team_names(&lookup::all_teams(&self.ctx).await?);
        let client = &self.ctx.client;
        let mut sections = Vec::new();
        for rc in &connections {
            let mut outgoing = Vec::new();
            for id in self.ours_with(&rc.remote_id).await? {
                if let Ok(c) = client.get_channel(&id).await {
                    outgoing.push(json!({"name": c.name, "team": teams.get(&c.team_id).cloned().unwrap_or_default(), "waiting": false}));
                }
            }
            for share in self.ctx.store.waiting_shares(Some(&rc.remote_id)).await? {
                if let Ok(c) = client.get_channel(&share.channel_id).await {
                    outgoing.push(json!({"name": c.name, "team": teams.get(&c.team_id).cloned().unwrap_or_default(), "waiting": true}));
                }
            }
            let mut incoming = Vec::new();
            let mut listed = Vec::new();
            for channel_id in self.shared_with(&rc.remote_id, false).await? {
                let channel_id_seen = channel_id.clone();
                let request = self
                    .ctx
                    .store
                    .requests_for_channel(&channel_id)
                    .await?
                    .pop();
                let channel = client.get_channel(&channel_id).await.ok();
                let display = channel
                    .as_ref()
                    .map(|c| c.display_name.clone())
                    .or_else(|| request.as_ref().map(|r| r.channel_display_name.clone()))
                    .unwrap_or(channel_id);
                let state = match &request {
                    Some(r) if r.state == RequestState::Rejected => self.declined(r).await,
                    Some(r) => request_state(r, &teams),
                    None => "not yet seen by sharebot".into(),
                };
                incoming.push(json!({"channel": display, "state": state, "team": ""}));
                listed.push(channel_id_seen);
            }
            // Declined channels are no longer shared, but they were offered: the latest
            // decision about each one not listed above.
            let mut declined: Vec<ReviewRequest> = Vec::new();
            for r in self.ctx.store.rejected_requests(&rc.remote_id).await? {
                if listed.contains(&r.channel_id) {
                    continue;
                }
                declined.retain(|d| d.channel_id != r.channel_id);
                declined.push(r);
            }
            for r in &declined {
                incoming.push(json!({"channel": r.channel_display_name,
                                     "state": self.declined(r).await, "team": ""}));
            }
            let declined: Vec<String> = self
                .ctx
                .store
                .audit_of(
                    crate::review::DECLINED,
                    &crate::review::decline_subject(&rc.remote_id, ""),
                )
                .await?
                .into_iter()
                .filter_map(|e| {
                    let detail: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
                    detail["channel"].as_str().map(str::to_string)
                })
                .collect();
            sections.push(json!({"org": rc.display_name, "name": rc.name, "outgoing": outgoing, "declined": declined, "incoming": incoming}));
        }
        Ok(self
            .ctx
            .templates
            .render("command_shared.md.j2", &json!({ "sections": sections }))?)
    }

    /// `info ~channel`: with whom it is shared, or where it came from. Open to everyone, so
    /// only a channel the asker may see is described: a public one of a team they are in, any
    /// other (private, direct, group) only to its members, and everything to admins. Whether
    /// the channel does not exist, may not be seen, or names several, the answer is the same.
    pub(super) async fn info(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
    ) -> Result<String, CommandError> {
        let channel = if self.ctx.is_admin_now(&asked.user_id).await? {
            match lookup::channel(&self.ctx, reference, &asked.team_id).await {
                Ok(channel) => channel,
                Err(CommandError::NotFound(why)) => {
                    return match self.info_declined(asked, reference).await? {
                        Some(text) => Ok(text),
                        None => Err(CommandError::NotFound(why)),
                    }
                }
                Err(err) => return Err(err),
            }
        } else {
            let mut seen = Vec::new();
            for channel in lookup::candidates(&self.ctx, reference, &asked.team_id).await? {
                if self.may_see(&asked.user_id, &channel).await? {
                    seen.push(channel);
                }
            }
            match seen.len() {
                1 => seen.remove(0),
                // A declined channel is archived, so no lookup finds it; `info_declined`
                // tells it only to its members.
                0 => {
                    return match self.info_declined(asked, reference).await? {
                        Some(text) => Ok(text),
                        None => Err(CommandError::NotFound(UNSEEN_CHANNEL.into())),
                    }
                }
                _ => return Err(CommandError::NotFound(UNSEEN_CHANNEL.into())),
            }
        };
        let teams = team_names(&lookup::all_teams(&self.ctx).await?);
        let team = teams.get(&channel.team_id).cloned().unwrap_or_default();
        let shared = channel.shared == Some(true);
        let connections = lookup::connections(&self.ctx).await?;
        let received = self
            .ctx
            .store
            .requests_for_channel(&channel.id)
            .await?
            .pop()
            .filter(|r| r.state != RequestState::Withdrawn);
        let mut facts = json!({"channel": channel.name, "team": team, "shared": shared});
        if let Some(request) = received.filter(|_| shared) {
            let rc = connections
                .iter()
                .find(|rc| rc.remote_id == request.remote_id);
            facts["org"] = json!(rc
                .map(|rc| rc.display_name.clone())
                .unwrap_or(request.org_name.clone()));
            facts["name"] = json!(rc.map(|rc| rc.name.clone()).unwrap_or_default());
            facts["state"] = json!(request_state(&request, &teams));
        } else if shared {
            let mut with = Vec::new();
            for rc in &connections {
                if self.ours_with(&rc.remote_id).await?.contains(&channel.id) {
                    with.push(format!("**{}**", rc.display_name.replace('*', "\\*")));
                }
            }
            facts["outgoing"] = json!(with.join(", "));
        }
        self.say(asked, "info", facts)
    }

    /// Whether `user_id` may read `channel` as the server decides it for a person who is not
    /// a system admin: a member of the channel, or of its team when it is public.
    pub(super) async fn may_see(
        &self,
        user_id: &str,
        channel: &Channel,
    ) -> Result<bool, CommandError> {
        let client = &self.ctx.client;
        let absent = |e: &crate::mattermost::Error| {
            e.is_not_found() || matches!(e.status(), Some(400 | 403))
        };
        match client.channel_member(&channel.id, user_id).await {
            Ok(_) => return Ok(true),
            Err(e) if absent(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if channel.channel_type != "O" || channel.team_id.is_empty() {
            return Ok(false);
        }
        match client.team_member(&channel.team_id, user_id).await {
            Ok(member) => Ok(member.delete_at == 0),
            Err(e) if absent(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// `whois @user`: a user of this server, or which connection they come from.
    pub(super) async fn whois(
        &self,
        asked: &Asked,
        username: &str,
    ) -> Result<String, CommandError> {
        let Some(user) = self.ctx.client.find_username(username).await? else {
            return Err(CommandError::NotFound(format!(
                "There is no user @{username}."
            )));
        };
        // The bot sees every full name; the asker sees them only as the server would show
        // them (`PrivacySettings.ShowFullName`, or a system admin).
        let shown = self.ctx.is_admin_now(&asked.user_id).await?
            || self
                .ctx
                .client
                .shows_full_names()
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(
                        "cannot read PrivacySettings.ShowFullName: {}",
                        err.user_message()
                    );
                    false
                });
        let full_name = if shown {
            format!("{} {}", user.first_name, user.last_name)
                .trim()
                .to_string()
        } else {
            String::new()
        };
        let mut facts = json!({"user": user.username, "bot_user": user.is_bot,
                               "full_name": full_name});
        if let Some(remote_id) = user.remote_id.as_deref().filter(|r| !r.is_empty()) {
            facts["remote"] = json!(true);
            if let Some(rc) = lookup::connections(&self.ctx)
                .await?
                .into_iter()
                .find(|rc| rc.remote_id == remote_id)
            {
                facts["org"] = json!(rc.display_name);
                facts["name"] = json!(rc.name);
            }
        }
        self.say(asked, "whois", facts)
    }
}
