//! `/api/v4/users…`: login, logout, and reading users (sanitised as the server does).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::super::auth::bearer_token;
use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::model::{null_as_default, User};
use super::super::state::Db;
use super::request::{parse_body, path_id, path_name, Caller, Paging};
use crate::ids::new_id;

/// `User.SanitizeProfile` with `GetSanitizeOptions`: what everyone but the user itself sees.
/// The full name and the email go only to system admins (`manage_system`) unless
/// `PrivacySettings.ShowFullName` / `ShowEmailAddress` are on (both are, by default).
pub(crate) fn sanitize_other(user: &User, db: &Db, caller: &Caller) -> User {
    let privacy = &db.config.privacy_settings;
    let mut shown = User {
        notify_props: Default::default(),
        last_password_update: 0,
        email_verified: false,
        ..user.clone()
    };
    if !caller.is_admin() {
        if !privacy.show_full_name {
            shown.first_name.clear();
            shown.last_name.clear();
        }
        if !privacy.show_email_address {
            shown.email.clear();
        }
    }
    shown
}

/// `users/{user_id}` accepts `me` for the caller.
pub(crate) fn resolve_user_id(caller: &Caller, value: &str) -> ApiResult<String> {
    if value == "me" {
        return Ok(caller.user.id.clone());
    }
    path_id("user_id", value)?;
    Ok(value.to_string())
}

#[derive(Deserialize)]
pub(crate) struct LoginBody {
    #[serde(default, deserialize_with = "null_as_default")]
    login_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    password: String,
}

/// `POST /users/login`: the user, with the new session token in the `Token` header.
pub(crate) async fn login(State(state): State<Shared>, body: Bytes) -> ApiResult<Response> {
    let body: LoginBody = parse_body(&body, "login_id")?;
    let mut db = state.db();
    let user = db
        .login(&body.login_id, &body.password)
        .cloned()
        .ok_or_else(|| {
            AppError::new(
                401,
                "api.user.login.invalid_credentials_email_username",
                "Enter a valid email or username and/or password.",
            )
        })?;
    let token = new_id();
    db.sessions.insert(token.clone(), user.id.clone());
    drop(db);
    let mut response = Json(user).into_response();
    if let Ok(value) = token.parse() {
        response.headers_mut().insert("Token", value);
    }
    Ok(response)
}

/// `POST /users/logout`: ends the session if there is one; always OK.
pub(crate) async fn logout(State(state): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    if let Some(token) = bearer_token(&headers) {
        let mut db = state.db();
        let is_bot = db.user_by_token(&token).is_some_and(|u| u.is_bot);
        if !is_bot {
            db.sessions.remove(&token);
        }
    }
    status_ok()
}

/// `GET /users/{user_id}` (`me` for the caller, as `GET /users/me`).
pub(crate) async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<User>> {
    let user_id = resolve_user_id(&caller, &user_id)?;
    if user_id == caller.user.id {
        return Ok(Json(caller.user));
    }
    let db = state.db();
    db.user(&user_id)
        .map(|u| Json(sanitize_other(u, &db, &caller)))
        .ok_or_else(missing_user)
}

#[derive(Deserialize)]
pub(crate) struct RolesBody {
    #[serde(default, deserialize_with = "null_as_default")]
    roles: String,
}

/// The system-scope roles a user may hold (the server checks the role table), among them the
/// delegated Shared Channel Manager (`model.SharedChannelManagerRoleId`, built in, holding
/// `manage_shared_channels`), held beside `system_user` as any system role is.
const SYSTEM_ROLES: [&str; 5] = [
    "system_user",
    "system_admin",
    "system_guest",
    "system_manager",
    "system_shared_channel_manager",
];

/// `PUT /users/{user_id}/roles` `{roles}`: system admins only (`manage_roles`); the roles are
/// replaced whole (`model.IsValidUserRoles` refuses `system_admin` alone).
pub(crate) async fn update_roles(
    State(state): State<Shared>,
    caller: Caller,
    Path(user_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    path_id("user_id", &user_id)?;
    let body: RolesBody = parse_body(&body, "roles")?;
    let roles: Vec<&str> = body.roles.split_whitespace().collect();
    if roles.iter().any(|r| !SYSTEM_ROLES.contains(r)) || roles == ["system_admin"] {
        return Err(AppError::invalid_param("roles"));
    }
    caller.require_admin("manage_roles")?;
    let mut db = state.db();
    let record = db.users.get_mut(&user_id).ok_or_else(missing_user)?;
    record.user.roles = roles.join(" ");
    record.user.update_at = crate::ids::now_ms();
    Ok(status_ok())
}

fn missing_user() -> AppError {
    AppError::new(
        404,
        "app.user.missing_account.const",
        "Unable to find the user.",
    )
}

/// `GET /users/username/{username}`.
pub(crate) async fn by_username(
    State(state): State<Shared>,
    caller: Caller,
    Path(username): Path<String>,
) -> ApiResult<Json<User>> {
    path_name(&username, true)?;
    let db = state.db();
    let user = db.user_by_username(&username).ok_or_else(missing_user)?;
    Ok(Json(if user.id == caller.user.id {
        user.clone()
    } else {
        sanitize_other(user, &db, &caller)
    }))
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    paging: Paging,
    #[serde(default)]
    in_team: Option<String>,
    #[serde(default)]
    in_channel: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    inactive: Option<String>,
}

/// `GET /users` with `page`, `per_page`, `in_team`, `in_channel`, `role`, `active`, `inactive`.
pub(crate) async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<User>>> {
    let db = state.db();
    if let Some(team_id) = query.in_team.as_deref().filter(|t| !t.is_empty()) {
        if !db.can_view_team(&caller.user, team_id) {
            return Err(caller.denied("view_team"));
        }
    }
    if let Some(channel_id) = query.in_channel.as_deref().filter(|c| !c.is_empty()) {
        let readable = db
            .channels
            .get(channel_id)
            .is_some_and(|c| db.can_read_channel(&caller.user, c));
        if !readable {
            return Err(caller.denied("read_channel"));
        }
    }
    let active = match query.active.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ if query.inactive.as_deref() == Some("true") => Some(false),
        _ => None,
    };
    let mut users: Vec<User> = db
        .users
        .values()
        .map(|r| &r.user)
        .filter(|u| {
            query
                .in_team
                .as_deref()
                .filter(|t| !t.is_empty())
                .is_none_or(|t| db.is_team_member(t, &u.id))
        })
        .filter(|u| {
            query
                .in_channel
                .as_deref()
                .filter(|c| !c.is_empty())
                .is_none_or(|c| db.is_channel_member(c, &u.id))
        })
        .filter(|u| {
            query
                .role
                .as_deref()
                .filter(|r| !r.is_empty())
                .is_none_or(|r| u.roles.split_whitespace().any(|x| x == r))
        })
        .filter(|u| active.is_none_or(|a| (u.delete_at == 0) == a))
        .map(|u| {
            if u.id == caller.user.id {
                u.clone()
            } else {
                sanitize_other(u, &db, &caller)
            }
        })
        .collect();
    drop(db);
    users.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(Json(query.paging.apply(users)?))
}

/// `POST /users/ids`: the users among a JSON array of ids.
pub(crate) async fn by_ids(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Vec<User>>> {
    let ids: Vec<String> = parse_body(&body, "user_ids")?;
    if ids.is_empty() {
        return Err(AppError::invalid_param("user_ids"));
    }
    let db = state.db();
    Ok(Json(as_seen_by(
        &db,
        &caller,
        ids.iter().filter_map(|id| db.user(id)),
    )))
}

/// Users as `caller` sees them (itself whole, others sanitised), each once.
fn as_seen_by<'a>(db: &Db, caller: &Caller, found: impl Iterator<Item = &'a User>) -> Vec<User> {
    let mut users: Vec<User> = found
        .map(|u| {
            if u.id == caller.user.id {
                u.clone()
            } else {
                sanitize_other(u, db, caller)
            }
        })
        .collect();
    users.dedup_by(|a, b| a.id == b.id);
    users
}

/// `POST /users/usernames` `[username…]`: the users that exist, in any order (the way to
/// look up a remote user, whose `name:remote` username the `username/{username}` route
/// pattern does not match).
pub(crate) async fn by_usernames(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Vec<User>>> {
    let names: Vec<String> = parse_body(&body, "usernames")?;
    if names.is_empty() {
        return Err(AppError::invalid_param("usernames"));
    }
    let db = state.db();
    Ok(Json(as_seen_by(
        &db,
        &caller,
        names.iter().filter_map(|name| db.user_by_username(name)),
    )))
}

/// The 201 answer most creating routes give.
pub(crate) fn created<T: serde::Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}
