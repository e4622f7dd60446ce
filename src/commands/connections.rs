//! Commands about secure connections: `connect`, `accept-invite` (the dialog's submission),
//! `connections`, `reinvite`, `policy`, `disconnect` (once confirmed), and sending the shares
//! that waited for a connection to be accepted.

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};

use crate::mattermost::models::{
    AcceptInvite, MessageAttachment, NewRemoteCluster, Post, PostActionIntegrationRequest,
    PostActionIntegrationResponse, PostProps, RemoteCluster, RemoteClusterPatch,
    SubmitDialogRequest, SubmitDialogResponse, Team,
};
use crate::review::{ago, timestamp};
use crate::store::Policy;

use super::lookup;
use super::parse::{ChannelRef, PolicyArg};
use super::{Asked, CommandError, Commands};

/// Length of the passwords sharebot makes for invitations (alphanumeric: ~166 bits).
const PASSWORD_LEN: usize = 28;

/// A strong password for an invitation.
fn new_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Mattermost's rule for connection names: 1–64 of `[a-zA-Z0-9._-]`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A post with one attachment and no buttons (a confirmation's outcome).
pub(super) fn outcome_post(text: String, color: &str) -> Post {
    Post {
        props: PostProps {
            attachments: vec![MessageAttachment {
                fallback: text.clone(),
                color: color.into(),
                text,
                ..MessageAttachment::default()
            }],
            ..PostProps::default()
        },
        ..Post::default()
    }
}

/// `🟢 Connected`, `🟡 Connection pending` or `🔴 Offline`, as the System Console says it.
fn status(rc: &RemoteCluster, now: i64) -> &'static str {
    if !rc.is_confirmed() {
        "🟡 Connection pending"
    } else if rc.is_online(now) {
        "🟢 Connected"
    } else {
        "🔴 Offline"
    }
}

/// The policy a command asked for, with the team channels go to.
struct Wanted {
    policy: Policy,
    team: Team,
}

impl Commands {
    async fn wanted(&self, policy: &PolicyArg) -> Result<Wanted, CommandError> {
        Ok(match policy {
            PolicyArg::Review => Wanted {
                policy: Policy::Review,
                team: self.ctx.places.inbox_team.clone(),
            },
            PolicyArg::AutoAccept { team } => Wanted {
                policy: Policy::AutoAccept,
                team: lookup::destination_team(&self.ctx, team).await?,
            },
        })
    }

    /// "wait for review in **Shared Inbox**" / "go straight to **Marketing**".
    fn receives_phrase(policy: Policy, team: &str) -> String {
        match policy {
            Policy::Review => format!("wait for review in **{team}**"),
            Policy::AutoAccept => format!("go straight to **{team}**"),
        }
    }

    /// "review → Shared Inbox" / "auto → Marketing", from the stored policy or, for a
    /// connection made elsewhere, from its default team.
    async fn receives_short(&self, rc: &RemoteCluster, teams: &[Team]) -> String {
        let stored = self.ctx.store.policy(&rc.remote_id).await.ok().flatten();
        let team_id = stored
            .as_ref()
            .and_then(|p| p.destination_team_id.clone())
            .unwrap_or_else(|| rc.default_team_id.clone());
        let review = match &stored {
            Some(p) => p.policy == Policy::Review,
            None => rc.default_team_id == self.ctx.places.inbox_team.id,
        };
        if review {
            format!("review → {}", self.ctx.places.inbox_team.display_name)
        } else {
            let name = teams
                .iter()
                .find(|t| t.id == team_id)
                .map(|t| t.display_name.clone())
                .unwrap_or_else(|| "(a deleted team)".into());
            format!("auto → {name}")
        }
    }

    /// Sends the invitation to the asking admin alone, by DM.
    async fn send_invite(
        &self,
        asked: &Asked,
        rc: &RemoteCluster,
        invite: &str,
        password: &str,
        reinvite: bool,
    ) -> Result<(), CommandError> {
        let waiting: Vec<String> = {
            let mut names = Vec::new();
            for share in self.ctx.store.waiting_shares(Some(&rc.remote_id)).await? {
                if let Ok(c) = self.ctx.client.get_channel(&share.channel_id).await {
                    names.push(format!("~{}", c.name));
                }
            }
            names
        };
        let facts = |part: &str| {
            json!({"part": part, "reinvite": reinvite, "org": rc.display_name, "name": rc.name,
                   "invite": if part == "code" { invite } else { "" },
                   "password": if part == "password" { password } else { "" },
                   "waiting": waiting.join(", "),
                   "mention": format!("@{} ", self.ctx.places.bot.username)})
        };
        let code = self
            .ctx
            .templates
            .render("command_invite.md.j2", &facts("code"))?;
        let password = self
            .ctx
            .templates
            .render("command_invite.md.j2", &facts("password"))?;
        // The code by DM (stored, and pushed as the admin's notifications say); the password
        // as an ephemeral post in the same conversation: never stored, never pushed, so the
        // two never travel together.
        self.ctx.poster.direct_message(&asked.user_id, code).await?;
        self.ctx
            .poster
            .ephemeral_direct_message(&asked.user_id, password)
            .await?;
        Ok(())
    }

    /// `connect <name> [display name] [--review | --auto-accept --team T] [--share ~c …]`.
    pub(super) async fn connect(
        &self,
        asked: &Asked,
        name: &str,
        display_name: Option<&str>,
        policy: &PolicyArg,
        share: &[ChannelRef],
    ) -> Result<String, CommandError> {
        let existing = lookup::connections(&self.ctx).await?;
        if let Some(rc) = existing
            .iter()
            .find(|rc| rc.name.eq_ignore_ascii_case(name))
        {
            return self.say(
                asked,
                "exists",
                json!({"name": rc.name, "org": rc.display_name}),
            );
        }
        let wanted = self.wanted(policy).await?;
        // Everything the command names is found before anything is created.
        let mut channels = Vec::new();
        for reference in share {
            channels.push(lookup::channel(&self.ctx, reference, &asked.team_id).await?);
        }
        let password = new_password();
        let made = self
            .ctx
            .client
            .create_remote_cluster(&NewRemoteCluster {
                name: name.to_lowercase(),
                display_name: display_name.unwrap_or(name).to_string(),
                default_team_id: wanted.team.id.clone(),
                password: password.clone(),
            })
            .await?;
        let rc = made.remote_cluster;
        let store = &self.ctx.store;
        let destination = (wanted.policy == Policy::AutoAccept).then_some(wanted.team.id.as_str());
        store
            .set_policy(&rc.remote_id, wanted.policy, destination, &asked.user_id)
            .await?;
        for channel in &channels {
            store
                .add_waiting_share(&rc.remote_id, &channel.id, &asked.user_id)
                .await?;
        }
        let detail = json!({"org": rc.display_name, "name": rc.name, "policy": wanted.policy.as_str(),
                            "team": wanted.team.display_name,
                            "share": channels.iter().map(|c| c.name.clone()).collect::<Vec<_>>()});
        store
            .audit(
                &asked.user_id,
                "connection.created",
                &rc.remote_id,
                &detail.to_string(),
            )
            .await?;
        tracing::info!(connection = %rc.name, "connection created; invitation sent to the admin by DM");
        if let Err(err) = self
            .send_invite(asked, &rc, &made.invite, &password, false)
            .await
        {
            return Err(CommandError::NotFound(format!(
                "I created the connection `{}` but could not send you its invitation by direct message ({}). Run `reinvite {}` for a fresh one.",
                rc.name,
                err.user_message(),
                rc.name
            )));
        }
        let waiting: Vec<String> = channels.iter().map(|c| format!("~{}", c.name)).collect();
        self.say(
            asked,
            "connected",
            json!({"org": rc.display_name, "name": rc.name,
                   "receives": Self::receives_phrase(wanted.policy, &wanted.team.display_name),
                   "waiting": waiting.join(", ")}),
        )
    }

    /// `reinvite <name>`: a fresh code and password for a connection not yet accepted.
    pub(super) async fn reinvite(&self, asked: &Asked, name: &str) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, name).await?;
        if rc.is_confirmed() {
            return self.say(asked, "not_pending", json!({"org": rc.display_name}));
        }
        let password = new_password();
        let invite = self
            .ctx
            .client
            .generate_invite(&rc.remote_id, &password)
            .await?;
        self.send_invite(asked, &rc, &invite, &password, true)
            .await?;
        self.ctx
            .store
            .audit(
                &asked.user_id,
                "connection.reinvited",
                &rc.remote_id,
                &json!({"org": rc.display_name, "name": rc.name}).to_string(),
            )
            .await?;
        self.say(asked, "reinvited", json!({"org": rc.display_name}))
    }

    /// `policy <name> review | auto-accept --team T`.
    pub(super) async fn policy(
        &self,
        asked: &Asked,
        name: &str,
        policy: &PolicyArg,
    ) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, name).await?;
        let wanted = self.wanted(policy).await?;
        self.ctx
            .client
            .patch_remote_cluster(
                &rc.remote_id,
                &RemoteClusterPatch {
                    default_team_id: Some(wanted.team.id.clone()),
                    ..RemoteClusterPatch::default()
                },
            )
            .await?;
        let destination = (wanted.policy == Policy::AutoAccept).then_some(wanted.team.id.as_str());
        self.ctx
            .store
            .set_policy(&rc.remote_id, wanted.policy, destination, &asked.user_id)
            .await?;
        let detail = json!({"org": rc.display_name, "policy": wanted.policy.as_str(), "team": wanted.team.display_name});
        self.ctx
            .store
            .audit(
                &asked.user_id,
                "connection.policy",
                &rc.remote_id,
                &detail.to_string(),
            )
            .await?;
        self.say(
            asked,
            "policy_set",
            json!({"org": rc.display_name,
                   "receives": Self::receives_phrase(wanted.policy, &wanted.team.display_name)}),
        )
    }

    /// How many channels we share with a connection (waiting ones included) and receive.
    pub(super) async fn shared_counts(
        &self,
        remote_id: &str,
    ) -> Result<(usize, usize), CommandError> {
        let ours = self.shared_with(remote_id, true).await?.len();
        let theirs = self.shared_with(remote_id, false).await?.len();
        let waiting = self.ctx.store.waiting_shares(Some(remote_id)).await?.len();
        Ok((ours + waiting, theirs))
    }

    /// `connections`: the table.
    pub(super) async fn connections(&self, asked: &Asked) -> Result<String, CommandError> {
        let all = lookup::connections(&self.ctx).await?;
        let teams = lookup::all_teams(&self.ctx).await?;
        let pending = self.ctx.store.pending_requests().await?;
        let now = crate::ids::now_ms();
        let mut rows = Vec::new();
        for rc in &all {
            let ours = self.shared_with(&rc.remote_id, true).await?.len();
            let theirs = self.shared_with(&rc.remote_id, false).await?.len();
            let waiting = self
                .ctx
                .store
                .waiting_shares(Some(&rc.remote_id))
                .await?
                .len();
            let held = pending
                .iter()
                .filter(|r| r.remote_id == rc.remote_id)
                .count();
            let shared_out = match (ours, waiting) {
                (n, 0) => n.to_string(),
                (0, w) => format!("{w} waiting"),
                (n, w) => format!("{n} (+{w} waiting)"),
            };
            let shared_in = match held {
                0 => theirs.to_string(),
                h => format!("{theirs} ({h} pending)"),
            };
            rows.push(json!({
                "org": rc.display_name, "name": rc.name, "status": status(rc, now),
                "last_seen": if rc.last_ping_at > 0 { ago(rc.last_ping_at) } else { "—".into() },
                "receives": self.receives_short(rc, &teams).await,
                "shared_out": shared_out, "shared_in": shared_in,
            }));
        }
        // Who leads, as the database records it (none before the first leader).
        let leader = match self.ctx.store.leadership().await {
            Ok(l) if !l.replica.is_empty() => {
                json!({"replica": l.replica, "since": format!("{} ({})", timestamp(l.since), ago(l.since))})
            }
            _ => Value::Null,
        };
        Ok(self.ctx.templates.render(
            "command_connections.md.j2",
            &json!({"rows": rows, "mention": self.mention(asked), "leader": leader}),
        )?)
    }

    /// The confirmed `disconnect`: deletes the connection and forgets its policy.
    pub(super) async fn disconnect_confirmed(
        &self,
        click: &PostActionIntegrationRequest,
        remote_id: &str,
        asked: &Asked,
    ) -> Result<PostActionIntegrationResponse, CommandError> {
        let rc = match self.ctx.client.get_remote_cluster(remote_id).await {
            Ok(rc) if rc.delete_at == 0 => rc,
            Ok(_) => {
                return Ok(PostActionIntegrationResponse {
                    ephemeral_text: "That connection is already disconnected. Nothing was changed."
                        .into(),
                    ..Default::default()
                })
            }
            Err(e) if e.is_not_found() => {
                return Ok(PostActionIntegrationResponse {
                    ephemeral_text: "That connection no longer exists. Nothing was changed.".into(),
                    ..Default::default()
                })
            }
            Err(e) => return Err(e.into()),
        };
        self.ctx.client.delete_remote_cluster(&rc.remote_id).await?;
        let store = &self.ctx.store;
        store.delete_policy(&rc.remote_id).await?;
        store.forget_waiting_shares(&rc.remote_id).await?;
        store
            .audit(
                &click.user_id,
                "connection.deleted",
                &rc.remote_id,
                &json!({"org": rc.display_name, "name": rc.name}).to_string(),
            )
            .await?;
        let by = self.ctx.username(&click.user_id).await;
        let text = self.say(
            asked,
            "disconnected",
            json!({"org": rc.display_name, "name": rc.name, "by": by,
                   "at": timestamp(crate::ids::now_ms())}),
        )?;
        Ok(PostActionIntegrationResponse {
            update: Some(outcome_post(text, "#8a8a8a")),
            ..Default::default()
        })
    }

    /// The accept-invite dialog's fields, checked; field errors go back to the dialog.
    pub(super) async fn accept_invite(
        &self,
        submit: &SubmitDialogRequest,
        asked: &Asked,
    ) -> Result<SubmitDialogResponse, CommandError> {
        let field = |name: &str| {
            submit
                .submission
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let field_error = |name: &str, message: &str| {
            let mut errors = std::collections::BTreeMap::new();
            errors.insert(name.to_string(), message.to_string());
            Ok(SubmitDialogResponse {
                errors,
                ..Default::default()
            })
        };
        if !self.ctx.is_admin_now(&submit.user_id).await? {
            return Ok(SubmitDialogResponse {
                error: "Only system admins can accept invitations.".into(),
                ..Default::default()
            });
        }
        let name = field("name").to_lowercase();
        if !valid_name(&name) {
            return field_error(
                "name",
                "Use 1–64 letters, digits, dots, dashes or underscores.",
            );
        }
        let display = field("display_name");
        // Codes are base64: line breaks and spaces from copying are not part of them.
        let invite: String = field("invite").split_whitespace().collect();
        if invite.is_empty() {
            return field_error("invite", "Paste the invite code.");
        }
        let password = submit
            .submission
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if password.is_empty() {
            return field_error("password", "Enter the password that came with the code.");
        }
        let wanted = match field("policy").as_str() {
            "" | "review" => PolicyArg::Review,
            "auto-accept" => match field("team") {
                team if team.is_empty() => {
                    return field_error("team", "Pick the team channels go to, or choose review.")
                }
                team => PolicyArg::AutoAccept { team },
            },
            _ => return field_error("policy", "Pick one of the options."),
        };
        let wanted = match self.wanted(&wanted).await {
            Ok(w) => w,
            Err(CommandError::NotFound(why)) => return field_error("team", &why),
            Err(e) => return Err(e),
        };
        if let Some(rc) = lookup::connections(&self.ctx)
            .await?
            .into_iter()
            .find(|rc| rc.name == name)
        {
            return field_error(
                "name",
                &format!(
                    "There is already a connection named {} ({}).",
                    rc.name, rc.display_name
                ),
            );
        }
        let accepted = self
            .ctx
            .client
            .accept_invite(&AcceptInvite {
                invite,
                name: name.clone(),
                display_name: if display.is_empty() {
                    name.clone()
                } else {
                    display
                },
                default_team_id: wanted.team.id.clone(),
                password,
            })
            .await;
        let rc = match accepted {
            Ok(rc) => rc,
            Err(e) => {
                let id = e.app_error_id().unwrap_or_default().to_string();
                if id.contains("base64") || id.contains("decode") {
                    return field_error(
                        "invite",
                        "This is not a whole invite code: paste all of it again.",
                    );
                }
                if id.contains("decrypt") {
                    return field_error(
                        "password",
                        "This password does not open the invite code. Check both and try again.",
                    );
                }
                return Err(e.into());
            }
        };
        let destination = (wanted.policy == Policy::AutoAccept).then_some(wanted.team.id.as_str());
        let store = &self.ctx.store;
        store
            .set_policy(&rc.remote_id, wanted.policy, destination, &asked.user_id)
            .await?;
        let detail = json!({"org": rc.display_name, "name": rc.name, "policy": wanted.policy.as_str(), "team": wanted.team.display_name});
        store
            .audit(
                &asked.user_id,
                "connection.accepted",
                &rc.remote_id,
                &detail.to_string(),
            )
            .await?;
        let by = self.ctx.username(&asked.user_id).await;
        let text = self.say(
            asked,
            "invite_accepted",
            json!({"org": rc.display_name, "name": rc.name, "by": by,
                   "receives": Self::receives_phrase(wanted.policy, &wanted.team.display_name)}),
        )?;
        self.post_reply(asked, super::Reply::text(text)).await;
        Ok(SubmitDialogResponse::default())
    }

    /// Shares that waited for their connection: sent once it is accepted; dropped when it is
    /// gone.
    pub(super) async fn send_waiting_shares(&self) -> Result<(), CommandError> {
        let store = &self.ctx.store;
        for share in store.waiting_shares(None).await? {
            let rc = match self.ctx.client.get_remote_cluster(&share.remote_id).await {
                Ok(rc) => rc,
                Err(e) if e.is_not_found() => {
                    store.forget_waiting_shares(&share.remote_id).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if rc.delete_at != 0 {
                store.forget_waiting_shares(&share.remote_id).await?;
                continue;
            }
            if !rc.is_confirmed() {
                continue;
            }
            self.ctx
                .client
                .invite_remote_to_channel(&rc.remote_id, &share.channel_id)
                .await?;
            store
                .remove_waiting_share(&share.remote_id, &share.channel_id)
                .await?;
            let detail = json!({"org": rc.display_name, "waited_since": share.created_at});
            store
                .audit(
                    &share.requested_by,
                    "channel.shared",
                    &share.channel_id,
                    &detail.to_string(),
                )
                .await?;
            tracing::info!(connection = %rc.name, "a waiting share was sent");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_and_differ() {
        let (a, b) = (new_password(), new_password());
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn names_follow_mattermost() {
        assert!(valid_name("org-b.eu_1"));
        assert!(!valid_name(""));
        assert!(!valid_name("org b"));
        assert!(!valid_name(&"a".repeat(65)));
    }

    #[test]
    fn status_reads_as_the_console_does() {
        let now = 10 * 60 * 1000;
        let mut rc = RemoteCluster {
            site_url: "pending_abc".into(),
            ..RemoteCluster::default()
        };
        assert_eq!(status(&rc, now), "🟡 Connection pending");
        rc.site_url = "https://b.example.com".into();
        rc.last_ping_at = now - 60_000;
        assert_eq!(status(&rc, now), "🟢 Connected");
        rc.last_ping_at = now - 6 * 60_000;
        assert_eq!(status(&rc, now), "🔴 Offline");
    }
}
