//! One WebSocket: the upgrade of `/api/v4/websocket` (with its resume query), authentication,
//! and the socket's pump that writes queued frames, answers requests and pings
//! (`api4/websocket.go`, `websocket_router.go`, `web_conn.go`'s read and write pumps).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::super::auth::request_token;
use super::frames::{error_response, invalid_param, ok_response, Request};
use super::hub::{Attached, Hub, Stop};
use crate::ids::{is_valid_id, new_id};

/// Largest request frame a client may send (`model.SocketMaxMessageSizeKb`, 8 KiB).
const SOCKET_MAX_MESSAGE_SIZE: usize = 8 * 1024;
/// An unauthenticated socket is closed after this (`authCheckInterval`).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The server pings every `pingInterval` and closes a socket silent for `pongWaitTime`.
const PING_INTERVAL: Duration = Duration::from_secs(60);
const PONG_WAIT: Duration = Duration::from_secs(100);

impl Hub {
    /// The router serving `GET /api/v4/websocket`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/api/v4/websocket", get(upgrade))
            // The real route optionally takes a trailing slash.
            .route("/api/v4/websocket/", get(upgrade))
            .with_state(self.clone())
    }
}

/// What the upgrade's query asks for.
enum ResumeRequest {
    Fresh,
    Resume(String, i64),
    /// A malformed resume request: the server closes the socket right after the upgrade.
    Invalid,
}

fn resume_request(query: Option<&str>) -> ResumeRequest {
    let pairs: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let connection_id = pairs.get("connection_id").map(String::as_str).unwrap_or("");
    if connection_id.is_empty() {
        return ResumeRequest::Fresh;
    }
    if !is_valid_id(connection_id) {
        return ResumeRequest::Invalid;
    }
    match pairs.get("sequence_number").map(|s| s.parse::<i64>()) {
        Some(Ok(seq)) => ResumeRequest::Resume(connection_id.to_owned(), seq),
        _ => ResumeRequest::Invalid,
    }
}

async fn upgrade(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            let body = json!({
                "id": "api.web_socket.connect.upgrade.app_error",
                "message": "Failed to upgrade websocket connection.",
                "detailed_error": "",
                "request_id": new_id(),
                "status_code": 400,
            });
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    if hub.is_cut_off() {
        // What a client sees from the proxy in front of an unreachable server.
        return (StatusCode::BAD_GATEWAY, "the server cannot be reached\n").into_response();
    }
    // A bad token is not refused here: the endpoint trusts the requester and the socket waits
    // for an authentication challenge instead (APIHandlerTrustRequester).
    let user = request_token(&headers)
        .and_then(|token| hub.check_token(&token).map(|user_id| (user_id, token)));
    let resume = resume_request(query.as_deref());
    ws.max_message_size(SOCKET_MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| serve(hub, socket, user, resume))
}

async fn serve(hub: Hub, socket: WebSocket, user: Option<(String, String)>, resume: ResumeRequest) {
    let attached = match (user, resume) {
        (Some(_), ResumeRequest::Invalid) => return,
        (Some((user, token)), ResumeRequest::Resume(id, seq)) => {
            Some(hub.attach(&user, &token, Some((&id, seq))))
        }
        (Some((user, token)), ResumeRequest::Fresh) => Some(hub.attach(&user, &token, None)),
        (None, _) => None,
    };
    let mut session = Session {
        hub,
        attached,
        socket,
    };
    session.run().await;
    if let Some(attached) = &session.attached {
        session.hub.detach(&attached.conn_id, attached.attach);
    }
}

/// One socket's pump: writes queued frames, answers requests, pings.
struct Session {
    hub: Hub,
    attached: Option<Attached>,
    socket: WebSocket,
}

impl Session {
    async fn run(&mut self) {
        let started = tokio::time::Instant::now();
        let mut ping = tokio::time::interval_at(started + PING_INTERVAL, PING_INTERVAL);
        let mut pong_deadline = started + PONG_WAIT;
        loop {
            let authenticated = self.attached.is_some();
            tokio::select! {
                next = next_frame(&mut self.attached) => match next {
                    Next::Frame(frame) => {
                        if self.socket.send(Message::Text(Utf8Bytes::from(&*frame))).await.is_err() {
                            return;
                        }
                    }
                    Next::Stop(Stop::Drop) => return,
                    Next::Stop(Stop::Close) => {
                        // Like writePump on a closed send queue: flush, then a close frame.
                        if let Some(attached) = self.attached.as_mut() {
                            while let Ok(frame) = attached.rx.try_recv() {
                                if self.socket.send(Message::Text(Utf8Bytes::from(&*frame))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        let _ = self.socket.send(Message::Close(None)).await;
                        return;
                    }
                },
                incoming = self.socket.next() => {
                    match incoming {
                        Some(Ok(Message::Text(text))) => {
                            if !self.handle_request(text.as_str()).await {
                                return;
                            }
                        }
                        Some(Ok(Message::Pong(_))) => {
                            pong_deadline = tokio::time::Instant::now() + PONG_WAIT;
                        }
                        Some(Ok(Message::Ping(_))) => {}
                        // Binary frames are msgpack on the real server; not supported here.
                        Some(Ok(Message::Binary(_))) | Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    }
                }
                _ = ping.tick() => {
                    if self.socket.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(pong_deadline) => return,
                _ = tokio::time::sleep_until(started + AUTH_TIMEOUT), if !authenticated => return,
            }
        }
    }

    /// Handles one request frame; false when the socket must be closed.
    async fn handle_request(&mut self, text: &str) -> bool {
        let Ok(request) = serde_json::from_str::<Request>(text) else {
            return false;
        };
        if request.action.is_empty() {
            return self
                .reply(error_response(
                    request.seq,
                    "api.web_socket_router.no_action.app_error",
                    "No websocket action.",
                    400,
                ))
                .await;
        }
        if request.seq <= 0 {
            return self
                .reply(error_response(
                    request.seq,
                    "api.web_socket_router.bad_seq.app_error",
                    "Invalid sequence for WebSocket message.",
                    400,
                ))
                .await;
        }
        let data = request.data.unwrap_or_default();
        if request.action == "authentication_challenge" {
            if self.attached.is_some() {
                return true;
            }
            let Some(token) = data.get("token").and_then(Value::as_str) else {
                return false;
            };
            let Some(user_id) = self.hub.check_token(token) else {
                return false;
            };
            // A challenge always starts a fresh connection (hello, then the OK).
            let attached = self.hub.attach(&user_id, token, None);
            let _ = attached.tx.try_send(ok_response(request.seq, None));
            self.attached = Some(attached);
            return true;
        }
        if self.attached.is_none() {
            return self
                .reply(error_response(
                    request.seq,
                    "api.web_socket_router.not_authenticated.app_error",
                    "Connection is not authenticated. Please log in and try again.",
                    401,
                ))
                .await;
        }
        let response = match request.action.as_str() {
            "ping" => ok_response(
                request.seq,
                Some(json!({
                    "text": "pong",
                    "version": version_of(self.hub.server_version()),
                    "server_time": now_millis(),
                    "node_id": "",
                })),
            ),
            "user_typing" => match data.get("channel_id").and_then(Value::as_str) {
                Some(channel_id) if is_valid_id(channel_id) => {
                    let parent_id = data.get("parent_id").and_then(Value::as_str).unwrap_or("");
                    let user_id = self.attached.as_ref().map(|a| a.user_id.clone());
                    let allowed = match (self.hub.typing_handler(), user_id) {
                        (Some(handler), Some(user_id)) => handler(&user_id, channel_id, parent_id),
                        _ => true,
                    };
                    if allowed {
                        ok_response(request.seq, None)
                    } else {
                        invalid_param(request.seq, "channel_id")
                    }
                }
                _ => invalid_param(request.seq, "channel_id"),
            },
            "user_update_active_status" => match data.get("user_is_active") {
                Some(Value::Bool(_)) => ok_response(request.seq, None),
                _ => invalid_param(request.seq, "user_is_active"),
            },
            // Only logged and counted by the server.
            "posted_notify_ack" => ok_response(request.seq, None),
            // Statuses as the sandbox knows them: online while a socket is attached.
            "get_statuses" => {
                let online = self.hub.online_users();
                let map: serde_json::Map<String, Value> =
                    online.into_iter().map(|u| (u, json!("online"))).collect();
                ok_response(request.seq, (!map.is_empty()).then_some(Value::Object(map)))
            }
            "get_statuses_by_ids" => match status_ids(data.get("user_ids")) {
                Some(ids) => {
                    let online = self.hub.online_users();
                    let map: serde_json::Map<String, Value> = ids
                        .into_iter()
                        .map(|id| {
                            let status = if online.contains(&id) {
                                "online"
                            } else {
                                "offline"
                            };
                            (id, json!(status))
                        })
                        .collect();
                    ok_response(request.seq, Some(Value::Object(map)))
                }
                None => invalid_param(request.seq, "user_ids"),
            },
            _ => error_response(
                request.seq,
                "api.web_socket_router.bad_action.app_error",
                "Unknown WebSocket action.",
                500,
            ),
        };
        self.reply(response).await
    }

    /// Sends an answer: through the connection's queue when authenticated (so it keeps its
    /// place after queued events), directly otherwise.
    async fn reply(&mut self, frame: Arc<str>) -> bool {
        match &self.attached {
            Some(attached) => {
                let _ = attached.tx.try_send(frame);
                true
            }
            None => self
                .socket
                .send(Message::Text(Utf8Bytes::from(&*frame)))
                .await
                .is_ok(),
        }
    }
}

/// The `user_ids` of `get_statuses_by_ids`: a non-empty list of valid ids.
fn status_ids(value: Option<&Value>) -> Option<Vec<String>> {
    let ids: Vec<String> = value?
        .as_array()?
        .iter()
        .map(|id| id.as_str().filter(|id| is_valid_id(id)).map(str::to_owned))
        .collect::<Option<_>>()?;
    (!ids.is_empty()).then_some(ids)
}

/// `model.CurrentVersion` is the first three parts of the reported server version.
fn version_of(server_version: &str) -> String {
    server_version
        .split('.')
        .take(3)
        .collect::<Vec<_>>()
        .join(".")
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the socket task must do next.
enum Next {
    Frame(Arc<str>),
    Stop(Stop),
}

/// The next frame to write, or how to stop when the hub detached this socket.
async fn next_frame(attached: &mut Option<Attached>) -> Next {
    match attached {
        Some(attached) => tokio::select! {
            biased;
            closed = &mut attached.close => Next::Stop(match closed {
                Ok(()) => Stop::Close,
                Err(_) => Stop::Drop,
            }),
            frame = attached.rx.recv() => match frame {
                Some(frame) => Next::Frame(frame),
                None => Next::Stop(Stop::Drop),
            },
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_query_is_parsed_like_the_server() {
        assert!(matches!(resume_request(None), ResumeRequest::Fresh));
        assert!(matches!(
            resume_request(Some("connection_id=&sequence_number=0&posted_ack=true")),
            ResumeRequest::Fresh
        ));
        let id = new_id();
        assert!(matches!(
            resume_request(Some(&format!("connection_id={id}&sequence_number=5"))),
            ResumeRequest::Resume(got, 5) if got == id
        ));
        assert!(matches!(
            resume_request(Some(&format!("connection_id={id}"))),
            ResumeRequest::Invalid
        ));
        assert!(matches!(
            resume_request(Some("connection_id=short&sequence_number=1")),
            ResumeRequest::Invalid
        ));
    }

    #[test]
    fn tokens_come_from_the_header_or_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(request_token(&headers).as_deref(), Some("abc"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "token xyz".parse().unwrap());
        assert_eq!(request_token(&headers).as_deref(), Some("xyz"));
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "a=b; MMAUTHTOKEN=t1".parse().unwrap());
        assert_eq!(request_token(&headers).as_deref(), Some("t1"));
        assert_eq!(request_token(&HeaderMap::new()), None);
    }
}
