//! The sync of a shared channel's posts (with their authors) between servers
//! (`sync_send.go`, `sync_recv.go`): changes are queued per channel, sent to every confirmed
//! link after its cursor, and applied on the receiving side as posts by synced remote users.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use super::super::core::events::{self, PostedEvent};
use super::super::core::posts::system_post;
use super::super::core::reactions::{apply_remove, apply_save};
use super::super::core::shared::Shared;
use super::super::model::records::RemoteCluster;
use super::super::model::{Post, Reaction, User};
use super::super::state::Db;
use super::outbound::{self, Target, SEND_TIMEOUT};
use super::protocol::{Response, SyncMsg, SyncResponse, MSG_PATH, TOPIC_SYNC};
use crate::ids::{new_id, now_ms};

/// Attempts per batch before it is left for the next change of the channel.
const ATTEMPTS: u32 = 3;
/// Most posts per sync message.
const MAX_POSTS: usize = 100;
/// `model.UserNameMaxLength`.
const USERNAME_MAX: usize = 64;

/// The sync sender of one instance: takes queued channel ids and syncs each (until aborted).
pub(crate) async fn run(state: Shared, mut queue: mpsc::UnboundedReceiver<String>) {
    while let Some(first) = queue.recv().await {
        let mut channels = BTreeSet::from([first]);
        while let Ok(next) = queue.try_recv() {
            channels.insert(next);
        }
        for channel_id in channels {
            sync_channel(&state, &channel_id).await;
        }
    }
}

/// One link's pending work: the connection and the message for it.
struct Batch {
    link_id: String,
    site_url: String,
    remote_id: String,
    token: String,
    msg: SyncMsg,
    cursor: (i64, String),
}

/// Why a batch was not delivered.
enum SendError {
    /// The other server no longer shares the channel with us (`ErrChannelNotShared`).
    NotShared,
    Other(String),
}

async fn sync_channel(state: &Shared, channel_id: &str) {
    let batches = {
        let mut db = state.db();
        gather(&mut db, channel_id)
    };
    for batch in batches {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match send(state, &batch).await {
                Ok(()) => {
                    let mut db = state.db();
                    if let Some(scr) = db.shared_channel_remotes.get_mut(&batch.link_id) {
                        scr.last_post_update_at = batch.cursor.0;
                        scr.last_post_id = batch.cursor.1.clone();
                    }
                    break;
                }
                Err(SendError::NotShared) => {
                    not_shared(state, channel_id, &batch.remote_id);
                    break;
                }
                Err(SendError::Other(err)) => {
                    tracing::warn!(channel_id, remote_id = %batch.remote_id, attempt, %err,
                        "sandbox: sync failed");
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
    }
}

/// `handleChannelNotSharedError` (`sync_send_remote.go`): the other server answered that it no
/// longer shares the channel (its side uninvited us). The link's creator posts "This channel is
/// no longer shared.", the link is removed, and with no link left the channel stops being
/// shared here (`UninviteRemoteFromChannel`, which posts nothing more).
fn not_shared(state: &Shared, channel_id: &str, remote_id: &str) {
    let published = {
        let mut db = state.db();
        let Some(scr) = db.channel_remote(channel_id, remote_id).cloned() else {
            return;
        };
        let Some(channel) = db.channels.get(channel_id).cloned() else {
            return;
        };
        let now = db.next_post_time(channel_id);
        let post = system_post(
            channel_id,
            &scr.creator_id,
            "system_generic",
            super::store::UNSHARE_MESSAGE.into(),
            json!({}),
            now,
        );
        db.save_post(&post);
        let posted = PostedEvent::gather(&db, &post);
        if let Some(link) = db.shared_channel_remotes.get_mut(&scr.id) {
            link.delete_at = now;
            link.update_at = now;
        }
        let unshared = if db.channel_remotes(channel_id).is_empty() {
            db.unshare_silently(channel_id)
        } else {
            None
        };
        let members = db.channel_member_ids(channel_id);
        tracing::info!(channel_id, remote_id, name = %channel.name,
            "sandbox: the remote no longer shares the channel; unshared locally");
        (posted, unshared, members)
    };
    let (posted, unshared, members) = published;
    if let Some(channel) = unshared {
        events::channel_updated(&state.hub, &members, &channel);
    }
    if let Some(event) = posted {
        event.publish(&state.hub);
    }
}

async fn send(state: &Shared, batch: &Batch) -> Result<(), SendError> {
    let target = Target {
        site_url: &batch.site_url,
        remote_id: &batch.remote_id,
        token: &batch.token,
    };
    let payload = serde_json::to_value(&batch.msg).map_err(|e| SendError::Other(e.to_string()))?;
    let msg = outbound::message(TOPIC_SYNC, payload);
    let answer: Response = outbound::send(&state.http, &target, MSG_PATH, msg, SEND_TIMEOUT)
        .await
        .map_err(|err| SendError::Other(err.to_string()))?;
    if !answer.is_success() {
        if answer.err.contains(CHANNEL_NOT_SHARED) {
            return Err(SendError::NotShared);
        }
        return Err(SendError::Other(answer.err));
    }
    let result: SyncResponse = serde_json::from_value(answer.payload).unwrap_or_default();
    if !result.post_errors.is_empty() {
        // `sendPostSyncData`: refused posts are logged and the cursor moves on all the same.
        tracing::warn!(remote_id = %batch.remote_id, posts = ?result.post_errors,
            "sandbox: the remote refused posts");
    }
    Ok(())
}

/// `ErrChannelNotShared` of `sync_recv.go`.
const CHANNEL_NOT_SHARED: &str = "channel is no longer shared";

/// System posts about the channel's own header, purpose and name, which each server makes for
/// itself and never syncs (`ExcludeChannelMetadataSystemPosts`).
const METADATA_POSTS: [&str; 3] = [
    "system_header_change",
    "system_purpose_change",
    "system_displayname_change",
];

/// The messages a channel's links are owed: posts changed after each link's cursor (system
/// posts too, but for the channel-metadata ones; deleted posts too, so deletions sync), not
/// received from that link's server, with their authors (`syncForRemote`). The cursor moves
/// over every post read, those filtered out included; a link with nothing left to send just
/// has its cursor moved (`updateCursorForRemote`).
fn gather(db: &mut Db, channel_id: &str) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut moved = Vec::new();
    for scr in db.channel_remotes(channel_id) {
        if !scr.is_invite_confirmed {
            continue;
        }
        let Some(rc) = db
            .remote(&scr.remote_id, false)
            .filter(|rc| rc.is_confirmed())
        else {
            continue;
        };
        let cursor = (scr.last_post_update_at, scr.last_post_id.clone());
        let mut read: Vec<&Post> = db
            .posts
            .values()
            .filter(|p| p.channel_id == channel_id)
            .filter(|p| !METADATA_POSTS.contains(&p.post_type.as_str()))
            .filter(|p| (p.update_at, p.id.as_str()) > (cursor.0, cursor.1.as_str()))
            .collect();
        read.sort_by(|a, b| (a.update_at, &a.id).cmp(&(b.update_at, &b.id)));
        read.truncate(MAX_POSTS);
        let read_to = read.last().map(|p| (p.update_at, p.id.clone()));
        let posts: Vec<&Post> = read
            .into_iter()
            .filter(|p| p.remote_id.as_deref() != Some(rc.remote_id.as_str()))
            .collect();
        // Reactions changed since the cursor (removals included), on any post of the channel,
        // not made on the target server; applying one twice changes nothing.
        let reactions: Vec<Reaction> = db
            .reactions
            .values()
            .filter(|r| r.update_at >= cursor.0)
            .filter(|r| r.remote_id.as_deref() != Some(rc.remote_id.as_str()))
            .filter(|r| {
                db.posts
                    .get(&r.post_id)
                    .is_some_and(|p| p.channel_id == channel_id)
            })
            .cloned()
            .collect();
        if posts.is_empty() && reactions.is_empty() {
            if let Some(to) = read_to {
                moved.push((scr.id.clone(), to));
            }
            continue;
        }
        let mut users = BTreeMap::new();
        let authors = posts
            .iter()
            .map(|p| p.user_id.as_str())
            .chain(reactions.iter().map(|r| r.user_id.as_str()));
        for author in authors {
            if let Some(user) = db.user(author) {
                if user.remote_id.as_deref() != Some(rc.remote_id.as_str()) {
                    users.insert(user.id.clone(), sanitized_for_sync(user));
                }
            }
        }
        let newest_reaction = reactions.iter().map(|r| r.update_at).max().unwrap_or(0);
        let last = read_to
            .filter(|(at, _)| *at >= newest_reaction)
            .or(Some((newest_reaction.max(cursor.0), cursor.1.clone())));
        batches.push(Batch {
            link_id: scr.id.clone(),
            site_url: rc.site_url.clone(),
            remote_id: rc.remote_id.clone(),
            token: rc.remote_token.clone(),
            msg: SyncMsg {
                id: new_id(),
                channel_id: channel_id.to_string(),
                users,
                posts: posts.into_iter().map(Post::stripped).collect(),
                reactions,
            },
            cursor: last.unwrap_or(cursor),
        });
    }
    for (link_id, (at, id)) in moved {
        if let Some(scr) = db.shared_channel_remotes.get_mut(&link_id) {
            scr.last_post_update_at = at;
            scr.last_post_id = id;
        }
    }
    batches
}

/// `sanitizeUserForSync`: no secrets, no notification settings, a plain user role.
fn sanitized_for_sync(user: &User) -> User {
    User {
        roles: "system_user".into(),
        notify_props: BTreeMap::new(),
        email_verified: false,
        ..user.clone()
    }
}

/// Events to publish once the lock is released.
#[derive(Default)]
struct Outbox {
    posted: Vec<PostedEvent>,
    added: Vec<(Vec<String>, super::super::model::Channel, String)>,
    to_team: Vec<(String, String)>,
    edited: Vec<(Vec<String>, Post)>,
    deleted: Vec<(Vec<String>, Post)>,
    reactions: Vec<events::ReactionEvent>,
}

/// Applies a sync message from `rc` (`processSyncMessage`).
pub(crate) fn receive(
    state: &Shared,
    rc: &RemoteCluster,
    msg: SyncMsg,
) -> Result<SyncResponse, String> {
    let mut out = Outbox::default();
    let mut answer = SyncResponse::default();
    {
        let mut db = state.db();
        let channel = db
            .channels
            .get(&msg.channel_id)
            .cloned()
            .ok_or("channel not found processing sync message")?;
        if db.channel_remote(&channel.id, &rc.remote_id).is_none() {
            return Err("channel is no longer shared".into());
        }
        for (id, user) in &msg.users {
            match upsert_user(&mut db, rc, user, &channel, &mut out) {
                Ok(()) => answer.users_syncd.push(id.clone()),
                Err(_) => answer.user_errors.push(id.clone()),
            }
            answer.users_last_update_at = answer.users_last_update_at.max(user.update_at);
        }
        for post in msg.posts {
            let id = post.id.clone();
            let update_at = post.update_at;
            match upsert_post(&mut db, rc, post, &channel.id, &mut out) {
                Ok(()) => answer.posts_last_update_at = answer.posts_last_update_at.max(update_at),
                Err(_) => answer.post_errors.push(id),
            }
        }
        for reaction in msg.reactions {
            let update_at = reaction.update_at;
            let key = reaction.post_id.clone();
            match upsert_reaction(&mut db, rc, reaction, &channel.id, &mut out) {
                Ok(()) => {
                    answer.reactions_last_update_at = answer.reactions_last_update_at.max(update_at)
                }
                Err(_) => answer.reaction_errors.push(key),
            }
        }
    }
    for event in &out.reactions {
        event.publish(&state.hub);
    }
    for (team_id, user_id) in &out.to_team {
        events::added_to_team(&state.hub, team_id, user_id);
    }
    for (recipients, channel, user_id) in &out.added {
        events::user_added(&state.hub, recipients, channel, user_id);
    }
    for event in &out.posted {
        event.publish(&state.hub);
    }
    for (recipients, post) in &out.edited {
        events::post_edited(&state.hub, recipients, post);
    }
    for (recipients, post) in &out.deleted {
        events::post_deleted(&state.hub, recipients, post);
    }
    // Forward what changed here to the channel's other links (never back to `rc`: what came
    // from it is filtered out). A message that changed nothing forwards nothing, so two
    // servers never bounce the same reaction between them.
    if !out.posted.is_empty()
        || !out.edited.is_empty()
        || !out.deleted.is_empty()
        || !out.reactions.is_empty()
    {
        state.federation.channel_changed(&msg.channel_id);
    }
    Ok(answer)
}

/// `upsertSyncUser`: a remote user keeps its id, gets `<username>:<connection name>` and a
/// random email, and joins the channel's team and the channel.
fn upsert_user(
    db: &mut Db,
    rc: &RemoteCluster,
    incoming: &User,
    channel: &super::super::model::Channel,
    out: &mut Outbox,
) -> Result<(), String> {
    let now = now_ms();
    match db.users.get(&incoming.id).map(|r| r.user.remote_id.clone()) {
        Some(remote) if remote.as_deref() != Some(rc.remote_id.as_str()) => {
            return Err("remoteID mismatch".into());
        }
        Some(_) => {
            let username = free_username(db, &incoming.username, &rc.name, Some(&incoming.id));
            if let Some(record) = db.users.get_mut(&incoming.id) {
                let user = &mut record.user;
                user.username = username;
                user.nickname = incoming.nickname.clone();
                user.first_name = incoming.first_name.clone();
                user.last_name = incoming.last_name.clone();
                user.position = incoming.position.clone();
                user.update_at = now;
            }
        }
        None => {
            let original = incoming
                .username
                .split(':')
                .next()
                .unwrap_or(&incoming.username)
                .to_string();
            let username = free_username(db, &original, &rc.name, None);
            let mut props = BTreeMap::new();
            props.insert("RemoteUsername".to_string(), original);
            props.insert("RemoteEmail".to_string(), incoming.email.clone());
            let origin = incoming
                .remote_id
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| rc.remote_id.clone());
            props.insert("OriginalRemoteId".to_string(), origin);
            let user = User {
                id: incoming.id.clone(),
                create_at: now,
                update_at: now,
                username,
                email: new_id(),
                nickname: incoming.nickname.clone(),
                first_name: incoming.first_name.clone(),
                last_name: incoming.last_name.clone(),
                position: incoming.position.clone(),
                roles: "system_user".into(),
                props,
                locale: incoming.locale.clone(),
                timezone: incoming.timezone.clone(),
                remote_id: Some(rc.remote_id.clone()),
                is_bot: incoming.is_bot,
                ..User::default()
            };
            db.insert_remote_user(user);
        }
    }
    if !channel.team_id.is_empty() && !db.is_team_member(&channel.team_id, &incoming.id) {
        // `AddUserToTeamByTeamId`: the team's join rules apply to a synced user too.
        let team = db.teams.get(&channel.team_id).cloned();
        let user = db.user(&incoming.id).cloned();
        if let (Some(team), Some(user)) = (team, user) {
            db.check_team_join(&team, &user)
                .map_err(|e| format!("error adding sync user to Team: {}", e.id))?;
        }
        db.join_team(&channel.team_id, &incoming.id, now);
        out.to_team
            .push((channel.team_id.clone(), incoming.id.clone()));
    }
    if !db.is_channel_member(&channel.id, &incoming.id) {
        let at = db.next_post_time(&channel.id);
        db.add_channel_member(&channel.id, &incoming.id, false, at);
        let username = db
            .user(&incoming.id)
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let post = system_post(
            &channel.id,
            &incoming.id,
            "system_join_channel",
            format!("@{username} joined the channel."),
            json!({"username": username}),
            at,
        );
        db.save_post(&post);
        out.added.push((
            db.channel_member_ids(&channel.id),
            channel.clone(),
            incoming.id.clone(),
        ));
        if let Some(event) = PostedEvent::gather(db, &post) {
            out.posted.push(event);
        }
    }
    Ok(())
}

/// `mungUsername`: `<name>:<remote>`, with `~2`, `~3`… before the colon while taken.
fn free_username(db: &Db, name: &str, remote: &str, owner: Option<&str>) -> String {
    let remote: String = remote.chars().take(USERNAME_MAX / 2).collect();
    for n in 1..=25 {
        let base = if n == 1 {
            name.to_string()
        } else {
            format!("{name}~{n}")
        };
        let room = USERNAME_MAX.saturating_sub(remote.len() + 1);
        let base = if base.len() > room {
            let cut: String = base.chars().take(room.saturating_sub(3)).collect();
            format!("{cut}...")
        } else {
            base
        };
        let candidate = format!("{base}:{remote}").to_lowercase();
        match db.user_by_username(&candidate) {
            Some(user) if Some(user.id.as_str()) != owner => continue,
            _ => return candidate,
        }
    }
    format!("{}:{remote}", new_id())
}

/// `upsertSyncPost`: a new post keeps its id and is marked as coming from `rc`; a known one
/// takes the edit.
fn upsert_post(
    db: &mut Db,
    rc: &RemoteCluster,
    mut post: Post,
    channel_id: &str,
    out: &mut Outbox,
) -> Result<(), String> {
    if post.channel_id != channel_id {
        return Err("post channel id mismatch".into());
    }
    if let Some(existing) = db.posts.get(&post.id).cloned() {
        if existing.channel_id != channel_id {
            return Err("post channel id mismatch".into());
        }
        if post.delete_at > 0 {
            // `upsertSyncPost`: a deletion deletes the copy here too.
            if existing.delete_at == 0 {
                let mut deleted = existing;
                let now = db.now();
                deleted.delete_at = now;
                deleted.update_at = now;
                db.posts.insert(deleted.id.clone(), deleted.clone());
                out.deleted
                    .push((db.channel_member_ids(channel_id), deleted));
            }
            return Ok(());
        }
        if post.message == existing.message && post.edit_at <= existing.edit_at {
            return Ok(());
        }
        let mut updated = existing;
        updated.message = post.message;
        updated.props = post.props;
        updated.edit_at = post.edit_at.max(now_ms());
        updated.update_at = now_ms();
        db.posts.insert(updated.id.clone(), updated.clone());
        out.edited
            .push((db.channel_member_ids(channel_id), updated));
        return Ok(());
    }
    let author_ok = db
        .user(&post.user_id)
        .is_some_and(|u| u.remote_id.as_deref() == Some(rc.remote_id.as_str()));
    if !author_ok {
        return Err("remoteID mismatch".into());
    }
    let now = db.next_post_time(channel_id);
    post.create_at = now;
    post.update_at = now;
    post.remote_id = Some(rc.remote_id.clone());
    if !post.root_id.is_empty() && !db.posts.contains_key(&post.root_id) {
        post.root_id.clear();
    }
    if post.delete_at > 0 {
        // Deleted before it was ever sent: stored deleted, never shown.
        post.delete_at = now;
        db.posts.insert(post.id.clone(), post);
        return Ok(());
    }
    db.save_post(&post);
    if let Some(event) = PostedEvent::gather(db, &post) {
        out.posted.push(event);
    }
    Ok(())
}

/// `upsertSyncReaction`: a removal (`delete_at` set) removes the live reaction; otherwise the
/// reaction is saved as coming from `rc` unless it is already there.
fn upsert_reaction(
    db: &mut Db,
    rc: &RemoteCluster,
    mut reaction: Reaction,
    channel_id: &str,
    out: &mut Outbox,
) -> Result<(), String> {
    let in_channel = db
        .posts
        .get(&reaction.post_id)
        .is_some_and(|p| p.channel_id == channel_id);
    if !in_channel {
        return Err("reaction post not found in the channel".into());
    }
    let author_ok = db
        .user(&reaction.user_id)
        .is_some_and(|u| u.remote_id.as_deref() == Some(rc.remote_id.as_str()));
    if !author_ok {
        return Err("remoteID mismatch".into());
    }
    let live = db
        .reactions
        .get(&(
            reaction.post_id.clone(),
            reaction.user_id.clone(),
            reaction.emoji_name.clone(),
        ))
        .is_some_and(|r| r.delete_at == 0);
    reaction.remote_id = Some(rc.remote_id.clone());
    let event = if reaction.delete_at > 0 {
        if !live {
            return Ok(());
        }
        reaction.delete_at = 0;
        apply_remove(db, reaction)
    } else {
        if live {
            return Ok(());
        }
        reaction.create_at = 0;
        reaction.update_at = 0;
        apply_save(db, reaction)
    }
    .map_err(|err| err.message)?;
    out.reactions.push(event);
    Ok(())
}
