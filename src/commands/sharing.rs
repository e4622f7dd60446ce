//! Commands about shared channels and who is who: `share`, `unshare`, `shared`, `info`,
//! `whois`.

use std::collections::HashMap;

use serde_json::json;

use crate::mattermost::models::{Channel, RemoteCluster, SharedChannelRemoteFilter, Team};
use crate::store::{RequestState, ReviewRequest};

use super::lookup;
use super::parse::ChannelRef;
use super::{Asked, CommandError, Commands};

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

fn team_names(teams: &[Team]) -> HashMap<String, String> {
    teams
        .iter()
        .map(|t| (t.id.clone(), t.display_name.clone()))
        .collect()
}

impl Commands {
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

    async fn ours_with(&self, remote_id: &str) -> Result<Vec<String>, CommandError> {
        self.shared_with(remote_id, true).await
    }

    /// A channel that can be shared: not a DM or group message, not archived.
    fn shareable(channel: &Channel) -> Option<&'static str> {
        match channel.channel_type.as_str() {
            "D" | "G" => {
                Some("direct and group messages are shared automatically, not by command.")
            }
            _ if channel.delete_at != 0 => Some("it is archived."),
            _ => None,
        }
    }

    /// `share ~channel with <connection>`.
    pub(super) async fn share(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        with: &str,
    ) -> Result<String, CommandError> {
        let channel = lookup::channel(&self.ctx, reference).await?;
        let rc = lookup::connection(&self.ctx, with).await?;
        let facts = json!({"channel": channel.name, "org": rc.display_name});
        if let Some(why) = Self::shareable(&channel) {
            return self.say(
                asked,
                "cannot_share",
                json!({"channel": channel.name, "message": why}),
            );
        }
        let store = &self.ctx.store;
        if !rc.is_confirmed() {
            store
                .add_waiting_share(&rc.remote_id, &channel.id, &asked.user_id)
                .await?;
            return self.say(asked, "share_waiting", facts);
        }
        if self.ours_with(&rc.remote_id).await?.contains(&channel.id) {
            return self.say(asked, "already_shared", facts);
        }
        if let Err(e) = self
            .ctx
            .client
            .invite_remote_to_channel(&rc.remote_id, &channel.id)
            .await
        {
            if e.status().is_some_and(|s| (400..500).contains(&s)) {
                return self.say(
                    asked,
                    "cannot_share",
                    json!({"channel": channel.name, "message": e.user_message()}),
                );
            }
            return Err(e.into());
        }
        store
            .audit(
                &asked.user_id,
                "channel.shared",
                &channel.id,
                &json!({"channel": channel.name, "org": rc.display_name}).to_string(),
            )
            .await?;
        self.say(asked, "shared", facts)
    }

    /// `unshare ~channel from <connection>`: stops the sync with that connection (a share
    /// still waiting is simply dropped).
    pub(super) async fn unshare(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        from: &str,
    ) -> Result<String, CommandError> {
        let channel = lookup::channel(&self.ctx, reference).await?;
        let rc = lookup::connection(&self.ctx, from).await?;
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
            for channel_id in self.shared_with(&rc.remote_id, false).await? {
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
                    Some(r) => request_state(r, &teams),
                    None => "not yet seen by sharebot".into(),
                };
                incoming.push(json!({"channel": display, "state": state, "team": ""}));
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

    /// `info ~channel`: with whom it is shared, or where it came from. Open to everyone, so a
    /// private channel is described only to its members (and admins).
    pub(super) async fn info(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
    ) -> Result<String, CommandError> {
        let channel = lookup::channel(&self.ctx, reference).await?;
        if channel.channel_type == "P"
            && !self.ctx.is_admin_now(&asked.user_id).await?
            && self
                .ctx
                .client
                .channel_member(&channel.id, &asked.user_id)
                .await
                .is_err()
        {
            return Err(CommandError::NotFound(
                "I can't find that channel. Use `~channel-name` or paste the channel's link."
                    .into(),
            ));
        }
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
        let mut facts = json!({"user": user.username, "bot_user": user.is_bot,
                               "full_name": format!("{} {}", user.first_name, user.last_name).trim()});
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
