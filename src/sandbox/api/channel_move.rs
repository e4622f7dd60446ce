//! `POST /api/v4/channels/{channel_id}/move`: moving a public or private channel to another team.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::super::core::events::{self, PostedEvent};
use super::super::core::posts::system_post;
use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::model::{Channel, Team};
use super::super::state::Db;
use super::request::{path_id, Caller};
use super::teams::missing_team;
use crate::ids::now_ms;

/// What a move did before it succeeded or failed: the members it removed (their events are sent
/// either way, as the server sends them while it goes) and the outcome.
struct Outcome {
    removed: Vec<String>,
    result: ApiResult<(Channel, Option<PostedEvent>)>,
}

/// `POST /channels/{channel_id}/move` `{team_id, force}`: 200 with the moved channel.
///
/// The checks run in the server's order: the channel must exist, then the body is read, then the
/// team must exist, and only then are the channel type and `manage_system` checked.
pub(crate) async fn move_channel(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Channel>> {
    path_id("channel_id", &channel_id)?;
    let channel = state
        .db()
        .channels
        .get(&channel_id)
        .cloned()
        .ok_or_else(AppError::missing_channel)?;
    // `model.StringInterfaceFromJSON`: a body that is not a JSON object reads as empty.
    let props: Map<String, Value> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let team_id = props
        .get("team_id")
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::invalid_param("team_id"))?
        .to_string();
    let force = props
        .get("force")
        .and_then(Value::as_bool)
        .ok_or_else(|| AppError::invalid_param("force"))?;
    let team = state
        .db()
        .teams
        .get(&team_id)
        .cloned()
        .ok_or_else(missing_team)?;
    if channel.channel_type == "D" || channel.channel_type == "G" {
        return Err(AppError::new(
            403,
            "api.channel.move_channel.type.invalid",
            "Unable to move direct or group message channels",
        ));
    }
    caller.require_admin("manage_system")?;

    let outcome = {
        let mut db = state.db();
        apply(&mut db, &caller, &channel, &team, force)
    };
    if !outcome.removed.is_empty() {
        let members = state.db().channel_member_ids(&channel.id);
        for user_id in &outcome.removed {
            events::user_removed(&state.hub, &members, &channel.id, user_id, &caller.user.id);
        }
    }
    let (moved, posted) = outcome.result?;
    if let Some(event) = posted {
        event.publish(&state.hub);
    }
    // The move's system post syncs like any other (`CreatePost` of a shared channel).
    super::posts::notify_if_shared(&state, &moved.id);
    Ok(Json(moved))
}

/// The move under the lock: drop deactivated members, with `force` drop those outside the team,
/// check the remaining members, switch the team and post the system message.
fn apply(db: &mut Db, caller: &Caller, channel: &Channel, team: &Team, force: bool) -> Outcome {
    // Deactivated members go silently (a store delete: no event, no post).
    for user_id in db.channel_member_ids(&channel.id) {
        if db.user(&user_id).is_some_and(|u| u.delete_at != 0) {
            db.channel_members.remove(&(channel.id.clone(), user_id));
        }
    }
    let mut removed = Vec::new();
    if force {
        for user_id in outsiders(db, &channel.id, &team.id) {
            if channel.name == "town-square" {
                let result = Err(AppError::new(
                    400,
                    "api.channel.remove.default.app_error",
                    "Unable to remove user from the default channel town-square.",
                ));
                return Outcome { removed, result };
            }
            db.channel_members
                .remove(&(channel.id.clone(), user_id.clone()));
            removed.push(user_id);
        }
    }
    let result = finish_move(db, caller, channel, team);
    Outcome { removed, result }
}

/// Members of the channel who are not (active) members of the team, in id order.
fn outsiders(db: &Db, channel_id: &str, team_id: &str) -> Vec<String> {
    db.channel_member_ids(channel_id)
        .into_iter()
        .filter(|user_id| !db.is_team_member(team_id, user_id))
        .collect()
}

/// `App.MoveChannel`: every member must be in the team; then the team changes and the admin
/// posts `system_move_channel` naming the previous team.
fn finish_move(
    db: &mut Db,
    caller: &Caller,
    channel: &Channel,
    team: &Team,
) -> ApiResult<(Channel, Option<PostedEvent>)> {
    if !outsiders(db, &channel.id, &team.id).is_empty() {
        return Err(AppError::new(
            500,
            "app.channel.move_channel.members_do_not_match.error",
            "Unable to move a channel unless all its members are already members of the destination team.",
        ));
    }
    let previous = db
        .teams
        .get(&channel.team_id)
        .cloned()
        .ok_or_else(missing_team)?;
    if channel.delete_at != 0 {
        // The channel store refuses to update an archived channel (an invalid input).
        return Err(AppError::new(
            400,
            "app.channel.update.bad_id",
            "Unable to update the channel.",
        ));
    }
    let clash = db
        .channels
        .values()
        .any(|c| c.team_id == team.id && c.name == channel.name && c.id != channel.id);
    if clash {
        return Err(AppError::new(
            400,
            "store.sql_channel.save_channel.exists.app_error",
            "A channel with that name already exists on the same team.",
        ));
    }
    let stored = db
        .channels
        .get_mut(&channel.id)
        .ok_or_else(AppError::missing_channel)?;
    stored.team_id = team.id.clone();
    stored.update_at = now_ms();
    let moved = stored.clone();
    let now = db.next_post_time(&channel.id);
    let post = system_post(
        &channel.id,
        &caller.user.id,
        "system_move_channel",
        format!(
            "This channel has been moved to this team from {}.",
            previous.name
        ),
        json!({"username": caller.user.username}),
        now,
    );
    db.save_post(&post);
    Ok((moved, PostedEvent::gather(db, &post)))
}
