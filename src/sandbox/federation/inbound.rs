//! The routes other servers call (`/api/v4/remotecluster/ping`, `/msg`, `/confirm_invite`),
//! authenticated by `X-RemoteCluster-Id` and `X-RemoteCluster-Token` instead of a session
//! (`web/handlers.go`, `app.GetRemoteClusterSession`; handlers in `api4/remote_cluster.go`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Json;
use serde_json::Value;

use super::super::core::shared::{Route, Shared};
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::invite_code::RemoteClusterInvite;
use super::super::model::records::RemoteCluster;
use super::protocol::{
    ChannelInviteMsg, Frame, Ping, Response, SyncMsg, HEADER_REMOTE_ID, HEADER_REMOTE_TOKEN,
    TOPIC_CHANNEL_INVITE, TOPIC_SYNC,
};
use crate::ids::{is_valid_id, new_id, now_ms};

/// Every server-to-server route: method, path and handler. They are not in the client API
/// spec.
pub(crate) fn route_table() -> Vec<Route> {
    vec![
        ("POST", super::protocol::PING_PATH, post(ping)),
        ("POST", super::protocol::MSG_PATH, post(msg)),
        (
            "POST",
            super::protocol::CONFIRM_INVITE_PATH,
            post(confirm_invite),
        ),
    ]
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("")
}

/// The connection a request comes from: its token must be the one this server issued for it.
fn authenticate(state: &Shared, headers: &HeaderMap) -> ApiResult<RemoteCluster> {
    let token = header(headers, HEADER_REMOTE_TOKEN);
    if token.is_empty() || headers.contains_key("authorization") {
        return Err(AppError::session_expired().detail("TokenRequired"));
    }
    let remote_id = header(headers, HEADER_REMOTE_ID);
    if remote_id.is_empty() {
        return Err(AppError::new(
            401,
            "api.context.remote_id_missing.app_error",
            "Remote cluster id is missing.",
        ));
    }
    let db = state.db();
    db.remote(remote_id, false)
        .filter(|rc| !rc.token.is_empty() && constant_time_eq(&rc.token, token))
        .cloned()
        .ok_or_else(|| {
            AppError::new(
                401,
                "api.context.invalid_token.error",
                "The provided token is invalid.",
            )
        })
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Decodes and checks a frame (`RemoteClusterFrame.IsValid`) and that it names the caller.
fn frame(body: &[u8], caller: &RemoteCluster) -> ApiResult<Frame> {
    let frame: Frame = serde_json::from_slice(body).map_err(|err| {
        AppError::new(400, "api.unmarshal_error", "Could not decode the request.")
            .detail(err.to_string())
    })?;
    let invalid_id = || {
        AppError::new(
            400,
            "api.remote_cluster.invalid_id.app_error",
            "Invalid id.",
        )
    };
    if !is_valid_id(&frame.remote_id) || !is_valid_id(&frame.msg.id) {
        return Err(invalid_id());
    }
    if frame.msg.topic.is_empty() {
        return Err(AppError::new(
            400,
            "api.remote_cluster.invalid_topic.app_error",
            "Invalid topic.",
        ));
    }
    if frame.msg.payload.is_null() {
        return Err(AppError::invalid_param("PayLoad"));
    }
    if frame.remote_id != caller.remote_id {
        return Err(AppError::remote_id_invalid(400, &frame.remote_id));
    }
    Ok(frame)
}

/// `POST /remotecluster/ping`: echoes `sent_at` with `recv_at`; the receiver records nothing.
pub(crate) async fn ping(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Ping>> {
    let caller = authenticate(&state, &headers)?;
    let frame = frame(&body, &caller)?;
    let mut ping: Ping = serde_json::from_value(frame.msg.payload)
        .map_err(|err| AppError::invalid_body_param("msg.payload", err.to_string()))?;
    ping.recv_at = now_ms();
    Ok(Json(ping))
}

/// `POST /remotecluster/confirm_invite`: the other side accepted our invite; its site URL and
/// tokens replace the placeholders (`ReceiveInviteConfirmation`).
pub(crate) async fn confirm_invite(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = authenticate(&state, &headers)?;
    let frame = frame(&body, &caller)?;
    // The age is read on this (the inviting) server's clock, as `time.Since(CreateAt)`.
    let age = state.db().now() - caller.create_at;
    let ttl = i64::try_from(state.federation.options.invite_expires_after.as_millis())
        .unwrap_or(i64::MAX);
    if age > ttl {
        return Err(AppError::new(
            400,
            "api.context.invitation_expired.error",
            "The invitation has expired.",
        ));
    }
    let confirm: RemoteClusterInvite = serde_json::from_value(frame.msg.payload)
        .map_err(|_| AppError::invalid_param("msg.payload"))?;
    let refused = |reason: &str| {
        AppError::new(
            500,
            "api.command_remote.confirm_invitation.error",
            "Could not confirm the invitation.",
        )
        .detail(reason.to_string())
    };
    {
        let mut db = state.db();
        let rc = db
            .remote_clusters
            .get_mut(&confirm.remote_id)
            .filter(|rc| rc.delete_at == 0)
            .ok_or_else(|| refused("cannot accept invite confirmation: unknown connection"))?;
        if rc.is_confirmed() {
            return Err(refused("remote cluster already confirmed"));
        }
        let token = if confirm.version >= 2 && !confirm.refreshed_token.is_empty() {
            if confirm.refreshed_token == rc.token {
                return Err(refused(
                    "the refreshed token must differ from the invite token",
                ));
            }
            confirm.refreshed_token.clone()
        } else {
            new_id()
        };
        rc.site_url = confirm.site_url.clone();
        rc.remote_token = confirm.token.clone();
        rc.token = token;
    }
    super::pinger::ping_soon(&state, &confirm.remote_id);
    Ok(status_ok())
}

/// `POST /remotecluster/msg`: hands the message to its topic's receiver; always 200 with a
/// `Response` whose status says how it went (`ReceiveIncomingMsg`).
pub(crate) async fn msg(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Response>> {
    let caller = authenticate(&state, &headers)?;
    let frame = frame(&body, &caller)?;
    let payload = frame.msg.payload;
    let answer = match frame.msg.topic.as_str() {
        TOPIC_CHANNEL_INVITE => match serde_json::from_value::<ChannelInviteMsg>(payload) {
            Ok(invite) => match super::channel_share::receive_invite(&state, &caller, invite) {
                Ok(()) => Response::ok(Value::Null),
                Err(err) => Response::fail(err),
            },
            Err(_) => Response::fail("invalid channel invite"),
        },
        TOPIC_SYNC => match serde_json::from_value::<SyncMsg>(payload) {
            Ok(sync) => match super::sync::receive(&state, &caller, sync) {
                Ok(answer) => Response::ok(serde_json::to_value(answer).unwrap_or_default()),
                Err(err) => Response::fail(err),
            },
            Err(err) => Response::fail(format!("invalid sync message: {err}")),
        },
        // No listener for the topic (the sandbox has none for `sharedchannel_unshare`, which
        // only the `/share-channel unshare` slash command sends): still a success, as the
        // server answers.
        _ => Response::ok(Value::Null),
    };
    Ok(Json(answer))
}
