//! Sharing a channel with a connection and receiving one (`service_api.go`,
//! `channelinvite.go`, `channelunshare.go` of the server's shared channel service).

use serde_json::json;

use super::super::core::events::{self, PostedEvent};
use super::super::core::posts::{send_ephemeral, system_post};
use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::model::records::{RemoteCluster, SharedChannel, SharedChannelRemote};
use super::super::model::{Channel, Post};
use super::outbound::{self, Target, SEND_TIMEOUT};
use super::protocol::{ChannelInviteMsg, Response, MSG_PATH, TOPIC_CHANNEL_INVITE};
use crate::ids::{new_id, now_ms};

/// `InviteRemoteToChannel(…, shareIfNotShared = true)`: shares the channel from here when it
/// is not shared yet, then offers it to the connection. A connection already linked is a
/// no-op; an offline one gets an unconfirmed link and the invite when it comes back.
pub(crate) fn invite(
    state: &Shared,
    channel: &Channel,
    rc: &RemoteCluster,
    user_id: &str,
) -> ApiResult<()> {
    let online = rc.is_online(state.db().now());
    let changed = {
        let mut db = state.db();
        if db.channel_remote(&channel.id, &rc.remote_id).is_some() {
            return Ok(());
        }
        let changed = if db.shared_channels.contains_key(&channel.id) {
            None
        } else {
            if channel.channel_type == "D" || channel.channel_type == "G" {
                return Err(AppError::new(
                    400,
                    "api.command_share.share_channel.error",
                    "Cannot share this channel: cannot share a direct or group channel",
                ));
            }
            let now = now_ms();
            db.shared_channels.insert(
                channel.id.clone(),
                SharedChannel::of(channel, user_id, "", now),
            );
            db.channels.get_mut(&channel.id).map(|c| {
                c.shared = Some(true);
                c.update_at = now;
                c.clone()
            })
        };
        if db
            .shared_channels
            .get(&channel.id)
            .is_some_and(|sc| !sc.home)
        {
            return Err(AppError::new(
                400,
                "api.command_share.channel_invite_not_home.error",
                "Cannot invite a remote to a channel that was shared from another server.",
            ));
        }
        if !online {
            let now = db.now();
            save_link(&mut db, &channel.id, &rc.remote_id, user_id, false, now);
        }
        changed.map(|c| {
            let members = db.channel_member_ids(&c.id);
            (c, members)
        })
    };
    if let Some((channel, members)) = changed {
        events::channel_updated(&state.hub, &members, &channel);
    }
    if online {
        spawn_send(state, &channel.id, &rc.remote_id, user_id);
    }
    Ok(())
}

/// Saves (or restores) the link of a channel to a connection.
fn save_link(
    db: &mut super::super::state::Db,
    channel_id: &str,
    remote_id: &str,
    creator_id: &str,
    confirmed: bool,
    now: i64,
) {
    let existing = db
        .channel_remote_any(channel_id, remote_id)
        .map(|scr| scr.id.clone());
    match existing.and_then(|id| db.shared_channel_remotes.get_mut(&id)) {
        Some(scr) => {
            scr.delete_at = 0;
            scr.update_at = now;
            scr.last_post_create_at = now;
            scr.last_post_update_at = now;
            scr.is_invite_confirmed = confirmed;
        }
        None => {
            let scr = SharedChannelRemote {
                id: new_id(),
                channel_id: channel_id.to_string(),
                creator_id: creator_id.to_string(),
                create_at: now,
                update_at: now,
                is_invite_accepted: true,
                is_invite_confirmed: confirmed,
                remote_id: remote_id.to_string(),
                last_post_create_at: now,
                last_post_update_at: now,
                ..SharedChannelRemote::default()
            };
            db.shared_channel_remotes.insert(scr.id.clone(), scr);
        }
    }
}

/// Sends the invite in the background (`SendChannelInvite`); the link is saved once the other
/// server said yes, and the inviting user is told either way by an ephemeral post.
fn spawn_send(state: &Shared, channel_id: &str, remote_id: &str, user_id: &str) {
    let state = state.clone();
    let (channel_id, remote_id, user_id) = (
        channel_id.to_string(),
        remote_id.to_string(),
        user_id.to_string(),
    );
    tokio::spawn(async move {
        let outcome = send_invite(&state, &channel_id, &remote_id).await;
        let display = state
            .db()
            .remote(&remote_id, true)
            .map(|rc| rc.display_name.clone())
            .unwrap_or_default();
        let message = match outcome {
            Ok(()) => {
                {
                    let mut db = state.db();
                    let now = db.now();
                    save_link(&mut db, &channel_id, &remote_id, &user_id, true, now);
                }
                state.federation.channel_changed(&channel_id);
                format!("`{display}` has been added to channel.")
            }
            Err(err) => {
                tracing::warn!(%channel_id, %remote_id, %err, "sandbox: channel invite failed");
                format!("Error sending channel invite for {display}: {err}")
            }
        };
        let post = Post {
            channel_id: channel_id.clone(),
            message,
            ..Post::default()
        };
        send_ephemeral(&state, &user_id, post);
    });
}

async fn send_invite(state: &Shared, channel_id: &str, remote_id: &str) -> Result<(), String> {
    let (invite, site_url, token) = {
        let db = state.db();
        let rc = db
            .remote(remote_id, false)
            .ok_or("the secure connection was deleted")?;
        let sc = db
            .shared_channels
            .get(channel_id)
            .ok_or("the channel is not shared")?;
        let channel = db.channels.get(channel_id).ok_or("channel not found")?;
        let invite = ChannelInviteMsg {
            channel_id: channel.id.clone(),
            team_id: String::new(),
            read_only: sc.readonly,
            name: channel.name.clone(),
            display_name: sc.display_name.clone(),
            header: sc.header.clone(),
            purpose: sc.purpose.clone(),
            channel_type: channel.channel_type.clone(),
        };
        (invite, rc.site_url.clone(), rc.remote_token.clone())
    };
    let target = Target {
        site_url: &site_url,
        remote_id,
        token: &token,
    };
    let payload = serde_json::to_value(&invite).map_err(|e| e.to_string())?;
    let msg = outbound::message(TOPIC_CHANNEL_INVITE, payload);
    let answer: Response = outbound::send(&state.http, &target, MSG_PATH, msg, SEND_TIMEOUT)
        .await
        .map_err(|err| err.to_string())?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(answer.err)
    }
}

/// Re-sends the invites saved while a connection was offline (`SendPendingInvitesForRemote`).
pub(crate) fn send_pending_invites(state: &Shared, remote_id: &str) {
    let pending: Vec<(String, String)> = {
        let db = state.db();
        db.shared_channel_remotes
            .values()
            .filter(|scr| {
                scr.remote_id == remote_id && scr.delete_at == 0 && !scr.is_invite_confirmed
            })
            .map(|scr| (scr.channel_id.clone(), scr.creator_id.clone()))
            .collect()
    };
    for (channel_id, creator) in pending {
        spawn_send(state, &channel_id, remote_id, &creator);
    }
}

/// Receiving side of `sharedchannel_invite` (`onReceiveChannelInvite`): the channel is created
/// with the sender's id in the connection's default team (else the first team), by the
/// connection's creator, who alone gets `channel_created`.
pub(crate) fn receive_invite(
    state: &Shared,
    rc: &RemoteCluster,
    invite: ChannelInviteMsg,
) -> Result<(), String> {
    let mut events_out: Option<(Channel, Option<PostedEvent>)> = None;
    {
        let mut db = state.db();
        let now = db.next_post_time(&invite.channel_id);
        match db
            .channel_remote_any(&invite.channel_id, &rc.remote_id)
            .cloned()
        {
            Some(scr) if scr.delete_at == 0 => return Ok(()),
            Some(_) => {
                // Shared again after an uninvite: the existing channel is reused.
                let channel = db
                    .channels
                    .get_mut(&invite.channel_id)
                    .ok_or("channel not found for a restored invitation")?;
                channel.shared = Some(true);
                channel.update_at = now;
                let channel = channel.clone();
                db.shared_channels
                    .entry(channel.id.clone())
                    .or_insert_with(|| {
                        SharedChannel::of(&channel, &rc.creator_id, &rc.remote_id, now)
                    });
                save_link(
                    &mut db,
                    &channel.id,
                    &rc.remote_id,
                    &rc.creator_id,
                    true,
                    now,
                );
            }
            None => {
                if db.channels.contains_key(&invite.channel_id) {
                    return Err(format!(
                        "cannot create channel {}: channel already exists",
                        invite.channel_id
                    ));
                }
                if invite.channel_type != "O" && invite.channel_type != "P" {
                    return Err("the sandbox only receives public and private channels".into());
                }
                let team_id = if db.teams.contains_key(&rc.default_team_id) {
                    rc.default_team_id.clone()
                } else {
                    let mut teams: Vec<_> =
                        db.teams.values().filter(|t| t.delete_at == 0).collect();
                    teams.sort_by(|a, b| a.display_name.cmp(&b.display_name));
                    teams
                        .first()
                        .map(|t| t.id.clone())
                        .ok_or("no team to create the channel in")?
                };
                if db.channel_by_name(&team_id, &invite.name).is_some() {
                    return Err("A channel with that name already exists on the same team.".into());
                }
                let channel = Channel {
                    id: invite.channel_id.clone(),
                    create_at: now,
                    update_at: now,
                    team_id,
                    channel_type: invite.channel_type.clone(),
                    display_name: invite.display_name.clone(),
                    name: invite.name.clone(),
                    header: invite.header.clone(),
                    purpose: invite.purpose.clone(),
                    creator_id: rc.creator_id.clone(),
                    last_post_at: now,
                    last_root_post_at: now,
                    shared: Some(true),
                    ..Channel::default()
                };
                db.channels.insert(channel.id.clone(), channel.clone());
                db.add_channel_member(&channel.id, &rc.creator_id, true, now);
                db.shared_channels.insert(
                    channel.id.clone(),
                    SharedChannel::of(&channel, &rc.creator_id, &rc.remote_id, now),
                );
                save_link(
                    &mut db,
                    &channel.id,
                    &rc.remote_id,
                    &rc.creator_id,
                    true,
                    now,
                );
                let posted = db.user(&rc.creator_id).cloned().map(|creator| {
                    let post = system_post(
                        &channel.id,
                        &creator.id,
                        "system_join_channel",
                        format!("@{} joined the channel.", creator.username),
                        json!({"username": creator.username}),
                        now,
                    );
                    db.save_post(&post);
                    post
                });
                let event = posted.and_then(|post| PostedEvent::gather(&db, &post));
                events_out = Some((channel, event));
            }
        }
    }
    if let Some((channel, posted)) = events_out {
        events::channel_created(&state.hub, &rc.creator_id, &channel);
        if let Some(event) = posted {
            event.publish(&state.hub);
        }
    }
    Ok(())
}

/// `UninviteRemoteFromChannel`: the link is soft-deleted (the other server is not told); with
/// no link left the channel stops being shared here. Returns false when there was no link.
pub(crate) fn uninvite(state: &Shared, channel_id: &str, remote_id: &str) -> bool {
    let unshared = {
        let mut db = state.db();
        let Some(id) = db
            .channel_remote(channel_id, remote_id)
            .map(|s| s.id.clone())
        else {
            return false;
        };
        let now = now_ms();
        if let Some(scr) = db.shared_channel_remotes.get_mut(&id) {
            scr.delete_at = now;
            scr.update_at = now;
        }
        if db.channel_remotes(channel_id).is_empty() {
            let poster = db
                .shared_channels
                .get(channel_id)
                .map(|sc| sc.creator_id.clone())
                .unwrap_or_default();
            unshare_with_events(&mut db, channel_id, &poster)
        } else {
            None
        }
    };
    publish_unshare(state, unshared);
    true
}

type UnshareEvents = (Channel, Vec<String>, Option<PostedEvent>);

fn unshare_with_events(
    db: &mut super::super::state::Db,
    channel_id: &str,
    poster: &str,
) -> Option<UnshareEvents> {
    let (channel, post) = db.unshare_locally(channel_id, poster)?;
    let members = db.channel_member_ids(channel_id);
    let posted = PostedEvent::gather(db, &post);
    Some((channel, members, posted))
}

fn publish_unshare(state: &Shared, unshared: Option<UnshareEvents>) {
    if let Some((channel, members, posted)) = unshared {
        events::channel_updated(&state.hub, &members, &channel);
        if let Some(event) = posted {
            event.publish(&state.hub);
        }
    }
}
