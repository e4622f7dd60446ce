//! `/api/v4/channels…`: creating, reading and archiving channels, direct channels, members.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::super::core::events::{self, PostedEvent};
use super::super::core::posts::system_post;
use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::model::{null_as_default, Channel, ChannelMember};
use super::super::state::{direct_channel_name, Db};
use super::request::{parse_body, path_id, path_name, Caller, Paging};
use super::users::{created, resolve_user_id};
use crate::ids::{is_valid_id, now_ms};

/// The channel, if the caller may read it (404 when missing, 403 when not readable).
pub(crate) fn readable_channel(db: &Db, caller: &Caller, channel_id: &str) -> ApiResult<Channel> {
    let channel = db
        .channels
        .get(channel_id)
        .cloned()
        .ok_or_else(AppError::missing_channel)?;
    if !db.can_read_channel(&caller.user, &channel) {
        return Err(caller.denied("read_channel"));
    }
    Ok(channel)
}

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    #[serde(default, deserialize_with = "null_as_default")]
    team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    display_name: String,
    #[serde(default, rename = "type", deserialize_with = "null_as_default")]
    channel_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    purpose: String,
    #[serde(default, deserialize_with = "null_as_default")]
    header: String,
}

fn valid_channel_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b))
        && !name.contains("__")
}

/// `POST /channels`: a public or private channel; the creator joins as channel admin (201).
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = parse_body(&body, "channel")?;
    let permission = match body.channel_type.as_str() {
        "O" => "create_public_channel",
        "P" => "create_private_channel",
        _ => return Err(AppError::invalid_param("channel.type")),
    };
    if !is_valid_id(&body.team_id) {
        return Err(AppError::new(
            400,
            "model.channel.is_valid.id.app_error",
            "Invalid team id.",
        ));
    }
    if !valid_channel_name(&body.name) {
        return Err(AppError::new(
            400,
            "model.channel.is_valid.2_or_more.app_error",
            "Name must be 2 or more lowercase alphanumeric characters.",
        ));
    }
    if body.display_name.trim().is_empty() || body.display_name.chars().count() > 64 {
        return Err(AppError::new(
            400,
            "model.channel.is_valid.display_name.app_error",
            "Invalid display name.",
        ));
    }
    let channel = {
        let mut db = state.db();
        if !db.can_view_team(&caller.user, &body.team_id) {
            return Err(caller.denied(permission));
        }
        if db.channel_by_name(&body.team_id, &body.name).is_some() {
            return Err(AppError::new(
                400,
                "store.sql_channel.save_channel.exists.app_error",
                "A channel with that name already exists on the same team.",
            ));
        }
        let now = now_ms();
        let id = db.insert_channel(
            &body.team_id,
            &body.channel_type,
            &body.name,
            &body.display_name,
            &caller.user.id,
            now,
        );
        db.add_channel_member(&id, &caller.user.id, true, now);
        let channel = db
            .channels
            .get_mut(&id)
            .ok_or_else(AppError::missing_channel)?;
        channel.purpose = body.purpose;
        channel.header = body.header;
        channel.clone()
    };
    events::channel_created(&state.hub, &caller.user.id, &channel);
    Ok(created(channel))
}

/// `GET /channels/{channel_id}`.
pub(crate) async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
) -> ApiResult<Json<Channel>> {
    path_id("channel_id", &channel_id)?;
    Ok(Json(readable_channel(&state.db(), &caller, &channel_id)?))
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    paging: Paging,
    #[serde(default)]
    include_deleted: Option<String>,
}

/// `GET /teams/{team_id}/channels`: the team's public channels.
pub(crate) async fn public_of_team(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Channel>>> {
    path_id("team_id", &team_id)?;
    let db = state.db();
    if !db.can_view_team(&caller.user, &team_id) {
        return Err(caller.denied("list_team_channels"));
    }
    let mut list: Vec<Channel> = db
        .channels
        .values()
        .filter(|c| c.team_id == team_id && c.channel_type == "O" && c.delete_at == 0)
        .cloned()
        .collect();
    drop(db);
    list.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(Json(query.paging.apply(list)?))
}

/// `GET /users/{user_id}/teams/{team_id}/channels`: the user's channels in a team, with its
/// direct and group channels (the user itself or an admin).
pub(crate) async fn of_user_in_team(
    State(state): State<Shared>,
    caller: Caller,
    Path((user_id, team_id)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Channel>>> {
    let user_id = resolve_user_id(&caller, &user_id)?;
    path_id("team_id", &team_id)?;
    if user_id != caller.user.id {
        caller.require_admin("manage_system")?;
    }
    let include_deleted = query.include_deleted.as_deref() == Some("true");
    let db = state.db();
    if !db.can_view_team(&caller.user, &team_id) {
        return Err(caller.denied("view_team"));
    }
    let mut list: Vec<Channel> = db
        .channels
        .values()
        .filter(|c| c.team_id == team_id || c.team_id.is_empty())
        .filter(|c| include_deleted || c.delete_at == 0)
        .filter(|c| db.is_channel_member(&c.id, &user_id))
        .cloned()
        .collect();
    drop(db);
    list.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(Json(list))
}

/// The query of `GET /users/{user_id}/channels`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct AllOfUserQuery {
    #[serde(default)]
    include_deleted: Option<String>,
    #[serde(default)]
    last_delete_at: Option<String>,
}

/// `GET /users/{user_id}/channels`: every channel of the user in every team, with its direct and
/// group channels, by id (the user itself or an admin). The server streams the whole list,
/// unpaged (`api4/channel.go` `getChannelsForUser`, store `GetChannelsByUser`).
pub(crate) async fn of_user(
    State(state): State<Shared>,
    caller: Caller,
    Path(user_id): Path<String>,
    Query(query): Query<AllOfUserQuery>,
) -> ApiResult<Json<Vec<Channel>>> {
    let user_id = resolve_user_id(&caller, &user_id)?;
    if user_id != caller.user.id {
        caller.require_admin("edit_other_users")?;
    }
    // An unreadable `last_delete_at` counts as 0; a negative one is refused.
    let last_delete_at = query
        .last_delete_at
        .as_deref()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    if last_delete_at < 0 {
        return Err(AppError::invalid_url_param("last_delete_at"));
    }
    let include_deleted = query.include_deleted.as_deref() == Some("true");
    let db = state.db();
    let mut list: Vec<Channel> = db
        .channels
        .values()
        .filter(|c| {
            c.delete_at == 0
                || (include_deleted && (last_delete_at == 0 || c.delete_at >= last_delete_at))
        })
        .filter(|c| db.is_channel_member(&c.id, &user_id))
        .cloned()
        .collect();
    drop(db);
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(list))
}

/// `GET /teams/name/{team_name}/channels/name/{channel_name}`.
pub(crate) async fn by_names(
    State(state): State<Shared>,
    caller: Caller,
    Path((team_name, channel_name)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Channel>> {
    path_name(&team_name, false)?;
    path_name(&channel_name, false)?;
    let include_deleted = query.include_deleted.as_deref() == Some("true");
    let db = state.db();
    let team = db.team_by_name(&team_name).cloned().ok_or_else(|| {
        AppError::new(
            404,
            "app.team.get_by_name.missing.app_error",
            "Unable to find the existing team.",
        )
    })?;
    // The store's `GetByName` matches `TeamId = ? OR TeamId = ''`: a direct or group
    // channel (no team) is found by its name under any team.
    let channel = db
        .channel_by_name(&team.id, &channel_name)
        .or_else(|| db.channel_by_name("", &channel_name))
        .filter(|c| include_deleted || c.delete_at == 0)
        .cloned()
        .ok_or_else(|| {
            AppError::new(
                404,
                "app.channel.get_by_name.missing.app_error",
                "Channel does not exist.",
            )
        })?;
    if !db.can_read_channel(&caller.user, &channel) {
        return Err(caller.denied("read_channel"));
    }
    Ok(Json(channel))
}

/// `POST /channels/direct` `[user_id, other_user_id]`: the direct channel (201, new or existing).
pub(crate) async fn direct(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let ids: Vec<String> = parse_body(&body, "user_ids")?;
    if ids.len() != 2 {
        return Err(AppError::invalid_param("user_ids"));
    }
    for id in &ids {
        if !is_valid_id(id) {
            return Err(AppError::invalid_param("user_id"));
        }
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    if a != caller.user.id && b != caller.user.id {
        caller.require_admin("manage_system")?;
    }
    let name = direct_channel_name(&a, &b);
    let (channel, new) = {
        let mut db = state.db();
        if db.user(&a).is_none() || db.user(&b).is_none() {
            return Err(AppError::new(
                400,
                "api.channel.create_direct_channel.invalid_user.app_error",
                "Invalid user ID for direct channel creation.",
            ));
        }
        match db.channel_by_name("", &name).cloned() {
            Some(existing) => (existing, false),
            None => {
                let now = now_ms();
                let id = db.insert_channel("", "D", &name, "", &caller.user.id, now);
                db.add_channel_member(&id, &a, false, now);
                db.add_channel_member(&id, &b, false, now);
                (
                    db.channels
                        .get(&id)
                        .cloned()
                        .ok_or_else(AppError::missing_channel)?,
                    true,
                )
            }
        }
    };
    if new {
        let teammate = if a == caller.user.id { &b } else { &a };
        let members: Vec<String> = if a == b {
            vec![a.clone()]
        } else {
            vec![a.clone(), b.clone()]
        };
        events::direct_added(&state.hub, &members, &channel.id, &caller.user.id, teammate);
    }
    Ok(created(channel))
}

/// `GET /channels/{channel_id}/members`.
pub(crate) async fn members(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<Json<Vec<ChannelMember>>> {
    path_id("channel_id", &channel_id)?;
    let db = state.db();
    readable_channel(&db, &caller, &channel_id)?;
    let list: Vec<ChannelMember> = db
        .channel_members
        .values()
        .filter(|m| m.channel_id == channel_id)
        .cloned()
        .collect();
    Ok(Json(paging.apply(list)?))
}

/// `GET /channels/{channel_id}/members/{user_id}`.
pub(crate) async fn member(
    State(state): State<Shared>,
    caller: Caller,
    Path((channel_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<ChannelMember>> {
    path_id("channel_id", &channel_id)?;
    let user_id = resolve_user_id(&caller, &user_id)?;
    let db = state.db();
    readable_channel(&db, &caller, &channel_id)?;
    db.channel_members
        .get(&(channel_id, user_id))
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            AppError::new(
                404,
                "app.channel.get_member.missing.app_error",
                "No channel member found for that user ID and channel ID.",
            )
        })
}

#[derive(Deserialize)]
pub(crate) struct AddMemberBody {
    #[serde(default, deserialize_with = "null_as_default")]
    user_id: String,
}

/// `POST /channels/{channel_id}/members` `{user_id}`: 201 with the member; a new member gets
/// `user_added` and a join (or added-by) system post.
pub(crate) async fn add_member(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    path_id("channel_id", &channel_id)?;
    let body: AddMemberBody = parse_body(&body, "user_id")?;
    if !is_valid_id(&body.user_id) {
        return Err(AppError::invalid_param("user_id"));
    }
    let (member, channel, recipients, posted) = {
        let mut db = state.db();
        let channel = db
            .channels
            .get(&channel_id)
            .cloned()
            .ok_or_else(AppError::missing_channel)?;
        if channel.channel_type == "D" || channel.channel_type == "G" {
            return Err(AppError::new(
                400,
                "api.channel.add_user_to_channel.type.app_error",
                "Can not add user to this channel type.",
            ));
        }
        let permission = if channel.channel_type == "O" {
            if body.user_id == caller.user.id {
                "join_public_channels"
            } else {
                "manage_public_channel_members"
            }
        } else {
            "manage_private_channel_members"
        };
        let allowed = caller.is_admin()
            || db.is_channel_member(&channel.id, &caller.user.id)
            || (channel.channel_type == "O"
                && body.user_id == caller.user.id
                && db.is_team_member(&channel.team_id, &caller.user.id));
        if !allowed {
            return Err(caller.denied(permission));
        }
        let target = db.user(&body.user_id).cloned().ok_or_else(|| {
            AppError::new(
                404,
                "app.user.missing_account.const",
                "Unable to find the user.",
            )
        })?;
        if !db.is_team_member(&channel.team_id, &target.id) {
            return Err(AppError::new(
                404,
                "app.team.get_member.missing.app_error",
                "No team member found for that user ID and team ID.",
            ));
        }
        let now = db.next_post_time(&channel.id);
        let (member, new) = db.add_channel_member(&channel.id, &target.id, false, now);
        let posted = if new {
            let post = if target.id == caller.user.id {
                system_post(
                    &channel.id,
                    &target.id,
                    "system_join_channel",
                    format!("@{} joined the channel.", target.username),
                    json!({"username": target.username}),
                    now,
                )
            } else {
                system_post(
                    &channel.id,
                    &caller.user.id,
                    "system_add_to_channel",
                    format!(
                        "@{} added to the channel by @{}.",
                        target.username, caller.user.username
                    ),
                    json!({
                        "userId": caller.user.id,
                        "username": caller.user.username,
                        "addedUserId": target.id,
                        "addedUsername": target.username,
                    }),
                    now,
                )
            };
            db.save_post(&post);
            PostedEvent::gather(&db, &post)
        } else {
            None
        };
        let recipients = if new {
            db.channel_member_ids(&channel.id)
        } else {
            Vec::new()
        };
        (member, channel, recipients, posted)
    };
    if !recipients.is_empty() {
        events::user_added(&state.hub, &recipients, &channel, &member.user_id);
    }
    if let Some(event) = posted {
        event.publish(&state.hub);
        // The join post syncs like any other (`CreatePost` of a shared channel).
        super::posts::notify_if_shared(&state, &channel.id);
    }
    Ok(created(member))
}

/// `DELETE /channels/{channel_id}`: archives the channel (`delete_at`), `{status: "OK"}`.
pub(crate) async fn archive(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    path_id("channel_id", &channel_id)?;
    let (channel, recipients, posted) = {
        let mut db = state.db();
        let channel = db
            .channels
            .get(&channel_id)
            .cloned()
            .ok_or_else(AppError::missing_channel)?;
        if channel.channel_type == "D" || channel.channel_type == "G" {
            return Err(AppError::new(
                400,
                "api.channel.delete_channel.type.invalid",
                "Unable to delete direct or group message channels",
            ));
        }
        let permission = if channel.channel_type == "O" {
            "delete_public_channel"
        } else {
            "delete_private_channel"
        };
        if !(caller.is_admin() || db.is_channel_member(&channel.id, &caller.user.id)) {
            return Err(caller.denied(permission));
        }
        if channel.delete_at != 0 {
            return Err(AppError::new(
                400,
                "api.channel.delete_channel.deleted.app_error",
                "The channel has been archived or deleted.",
            ));
        }
        let now = db.next_post_time(&channel.id);
        let post = system_post(
            &channel.id,
            &caller.user.id,
            "system_channel_deleted",
            format!("@{} archived the channel", caller.user.username),
            json!({"username": caller.user.username}),
            now,
        );
        db.save_post(&post);
        let posted = PostedEvent::gather(&db, &post);
        let stored = db
            .channels
            .get_mut(&channel_id)
            .ok_or_else(AppError::missing_channel)?;
        stored.delete_at = now;
        stored.update_at = now;
        let channel = stored.clone();
        let recipients: Vec<String> = db
            .team_members
            .values()
            .filter(|m| m.team_id == channel.team_id && m.delete_at == 0)
            .map(|m| m.user_id.clone())
            .collect();
        (channel, recipients, posted)
    };
    if let Some(event) = posted {
        event.publish(&state.hub);
    }
    events::channel_deleted(&state.hub, &recipients, &channel);
    Ok(status_ok())
}
