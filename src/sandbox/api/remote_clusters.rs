//! `/api/v4/remotecluster…`: secure connections — create with an invite code, accept another
//! server's code, list with the server's filters, read, patch, delete, new invite codes
//! (`api4/remote_cluster.go`; permission `manage_secure_connections`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::invite_code::{
    self as invite, InviteError, RemoteClusterInvite, CURRENT_VERSION,
};
use super::super::model::null_as_default;
use super::super::model::records::{RemoteCluster, SITE_URL_PENDING};
use super::request::{flag, parse_body, path_id, Caller, Paging};
use crate::ids::{new_id, now_ms};

const PERMISSION: &str = "manage_secure_connections";

pub(crate) fn missing_remote() -> AppError {
    AppError::new(
        404,
        "api.remote_cluster.get.not_found",
        "Could not find the secure connection.",
    )
}

/// Encrypts an invite off the async threads (PBKDF2 with 600 000 rounds).
async fn invite_code(
    remote_id: &str,
    site_url: &str,
    token: &str,
    password: &str,
) -> ApiResult<String> {
    let invite = RemoteClusterInvite {
        remote_id: remote_id.to_string(),
        remote_team_id: String::new(),
        site_url: site_url.to_string(),
        token: token.to_string(),
        refreshed_token: String::new(),
        version: CURRENT_VERSION,
    };
    let password = password.to_string();
    tokio::task::spawn_blocking(move || invite::encrypt(&invite, &password))
        .await
        .map_err(|_| {
            AppError::new(
                500,
                "api.remote_cluster.encrypt_invite_error",
                "Could not encrypt the invitation.",
            )
        })
}

/// A password of 16 random letters and digits (`utils.SecureRandString(16)`).
fn generated_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    paging: Paging,
    exclude_offline: Option<String>,
    in_channel: Option<String>,
    not_in_channel: Option<String>,
    only_confirmed: Option<String>,
    only_plugins: Option<String>,
    exclude_plugins: Option<String>,
    include_deleted: Option<String>,
    creator_id: Option<String>,
}

/// `GET /remotecluster`: sorted by display name then name, tokens removed.
pub(crate) async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<RemoteCluster>>> {
    caller.require_admin(PERMISSION)?;
    let db = state.db();
    let now = db.now();
    let linked = |remote_id: &str, channel_id: &str| {
        db.shared_channel_remotes
            .values()
            .any(|scr| scr.remote_id == remote_id && scr.channel_id == channel_id)
    };
    let mut list: Vec<RemoteCluster> = db
        .remote_clusters
        .values()
        .filter(|rc| flag(&query.include_deleted) || rc.delete_at == 0)
        .filter(|rc| !flag(&query.exclude_offline) || rc.is_online(now))
        // The store's filter only asks for a site URL: pending ones pass it.
        .filter(|rc| !flag(&query.only_confirmed) || !rc.site_url.is_empty())
        .filter(|rc| !flag(&query.only_plugins) || !rc.plugin_id.is_empty())
        .filter(|rc| !flag(&query.exclude_plugins) || rc.plugin_id.is_empty())
        .filter(|rc| {
            query
                .in_channel
                .as_deref()
                .is_none_or(|c| c.is_empty() || linked(&rc.remote_id, c))
        })
        .filter(|rc| {
            query
                .not_in_channel
                .as_deref()
                .is_none_or(|c| c.is_empty() || !linked(&rc.remote_id, c))
        })
        .filter(|rc| {
            query
                .creator_id
                .as_deref()
                .is_none_or(|c| c.is_empty() || rc.creator_id == c)
        })
        .map(RemoteCluster::sanitized)
        .collect();
    drop(db);
    list.sort_by(|a, b| (&a.display_name, &a.name).cmp(&(&b.display_name, &b.name)));
    Ok(Json(query.paging.apply(list)?))
}

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    display_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    default_team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    password: String,
}

/// `POST /remotecluster`: a pending connection and its invite code (201); the password is in
/// the answer only when the server made it up.
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_admin(PERMISSION)?;
    let body: CreateBody = parse_body(&body, "remoteCluster")?;
    if body.default_team_id.is_empty() {
        return Err(AppError::invalid_param("remote_cluster.default_team_id"));
    }
    let mut rc = RemoteCluster {
        remote_id: new_id(),
        name: body.name,
        display_name: body.display_name,
        site_url: format!("{SITE_URL_PENDING}{}", new_id()),
        default_team_id: body.default_team_id,
        token: new_id(),
        creator_id: caller.user.id.clone(),
        ..RemoteCluster::default()
    };
    let now = state.db().now();
    rc.pre_save(now);
    // AddRemoteCluster wraps every store error, validation included, in a 500.
    rc.validate().map_err(|err| {
        AppError::new(
            500,
            "api.remote_cluster.save.app_error",
            "Could not save the secure connection.",
        )
        .detail(err.message)
    })?;
    let password = if body.password.is_empty() {
        generated_password()
    } else {
        body.password.clone()
    };
    let code = invite_code(&rc.remote_id, &state.site_url, &rc.token, &password).await?;
    state
        .db()
        .remote_clusters
        .insert(rc.remote_id.clone(), rc.clone());
    let mut answer = json!({"remote_cluster": rc.sanitized(), "invite": code});
    if body.password.is_empty() {
        answer["password"] = Value::String(password);
    }
    Ok((axum::http::StatusCode::CREATED, Json(answer)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AcceptBody {
    #[serde(default, deserialize_with = "null_as_default")]
    invite: String,
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    display_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    default_team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    password: String,
}

/// `POST /remotecluster/accept_invite`: opens the code, saves the connection and confirms it
/// with the inviting server; a refused or failed confirmation soft-deletes it again
/// (`AcceptInvitation`). 201 with the connection.
pub(crate) async fn accept_invite(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_admin(PERMISSION)?;
    let body: AcceptBody = parse_body(&body, "remoteCluster")?;
    if body.default_team_id.is_empty() {
        return Err(AppError::invalid_param("remoteCluster.default_team_id"));
    }
    if !state.db().teams.contains_key(&body.default_team_id) {
        return Err(AppError::invalid_body_param(
            "remoteCluster.default_team_id",
            "Unable to find the existing team.",
        ));
    }
    let (code, password) = (body.invite.clone(), body.password.clone());
    let opened = tokio::task::spawn_blocking(move || invite::decrypt(&code, &password))
        .await
        .map_err(|_| AppError::accept_invitation("decryption did not finish"))?;
    let opened = opened.map_err(|err| match err {
        InviteError::Encoding => AppError::new(
            400,
            "api.remote_cluster.base64_decode_error",
            "Could not decode the invitation code.",
        ),
        InviteError::Length | InviteError::Decrypt | InviteError::Content => AppError::new(
            400,
            "api.remote_cluster.invite_decrypt_error",
            "Could not decrypt the invitation: the code or the password is wrong.",
        ),
    })?;
    let draft = RemoteCluster {
        name: body.name,
        display_name: body.display_name,
        default_team_id: body.default_team_id,
        creator_id: caller.user.id.clone(),
        ..RemoteCluster::default()
    };
    let rc = state
        .federation
        .service
        .accept_invite(&state, &opened, draft)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(rc.sanitized())).into_response())
}

/// `GET /remotecluster/{remote_id}` (deleted ones too).
pub(crate) async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
) -> ApiResult<Json<RemoteCluster>> {
    caller.require_admin(PERMISSION)?;
    path_id("remote_id", &remote_id)?;
    let db = state.db();
    db.remote(&remote_id, true)
        .map(|rc| Json(rc.sanitized()))
        .ok_or_else(missing_remote)
}

#[derive(Deserialize)]
pub(crate) struct PatchBody {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    default_team_id: Option<String>,
}

/// `PATCH /remotecluster/{remote_id}`: display name and default team. The real server answers
/// with the tokens in (the app layer does not sanitize); the sandbox keeps them out, as no
/// client should ever see them.
pub(crate) async fn patch(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<RemoteCluster>> {
    caller.require_admin(PERMISSION)?;
    path_id("remote_id", &remote_id)?;
    let patch: PatchBody = parse_body(&body, "remotecluster")?;
    let mut db = state.db();
    let current = db
        .remote(&remote_id, false)
        .cloned()
        .ok_or_else(missing_remote)?;
    let mut rc = current;
    if let Some(name) = patch.display_name {
        rc.display_name = name;
    }
    if let Some(team) = patch.default_team_id {
        rc.default_team_id = team;
    }
    rc.validate().map_err(|err| {
        AppError::new(
            500,
            "api.remote_cluster.update.app_error",
            "Could not update the secure connection.",
        )
        .detail(err.message)
    })?;
    db.remote_clusters.insert(rc.remote_id.clone(), rc.clone());
    Ok(Json(rc.sanitized()))
}

/// `DELETE /remotecluster/{remote_id}`: soft-deletes the connection and its channel links;
/// 200 `{"status": "OK"}` (the spec's 204 is not what `ReturnStatusOK` sends).
pub(crate) async fn delete_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
) -> ApiResult<Json<Value>> {
    path_id("remote_id", &remote_id)?;
    caller.require_admin(PERMISSION)?;
    let mut db = state.db();
    if db.remote(&remote_id, false).is_none() {
        return Err(missing_remote());
    }
    let now = now_ms();
    if let Some(rc) = db.remote_clusters.get_mut(&remote_id) {
        rc.delete_at = now;
    }
    for scr in db.shared_channel_remotes.values_mut() {
        if scr.remote_id == remote_id {
            scr.delete_at = now;
            scr.update_at = now;
        }
    }
    Ok(status_ok())
}

#[derive(Deserialize)]
pub(crate) struct GenerateBody {
    #[serde(default, deserialize_with = "null_as_default")]
    password: String,
}

/// `POST /remotecluster/{remote_id}/generate_invite` `{password}`: a new code for a connection
/// not yet accepted (201, the code as a JSON string).
pub(crate) async fn generate_invite(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    path_id("remote_id", &remote_id)?;
    caller.require_admin(PERMISSION)?;
    // `model.MapFromJSON`: a body that is not a string map reads as empty.
    let body: GenerateBody = serde_json::from_slice(&body).unwrap_or(GenerateBody {
        password: String::new(),
    });
    if body.password.is_empty() {
        return Err(AppError::invalid_param("password"));
    }
    let rc = state
        .db()
        .remote(&remote_id, false)
        .cloned()
        .ok_or_else(missing_remote)?;
    if rc.is_confirmed() {
        return Err(AppError::new(
            400,
            "api.remote_cluster.generate_invite_cluster_is_confirmed",
            "The secure connection is already confirmed.",
        ));
    }
    let code = invite_code(&rc.remote_id, &state.site_url, &rc.token, &body.password).await?;
    Ok((axum::http::StatusCode::CREATED, Json(code)).into_response())
}
