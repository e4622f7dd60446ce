//! The sandbox's WebSocket endpoint (`/api/v4/websocket`): authentication, `hello`, per-connection
//! `seq`, resumable connections with a bounded replay buffer, and event fan-out.
//!
//! Shaped like the real server (`server/channels/api4/websocket.go`,
//! `server/channels/app/platform/web_conn.go`, `web_hub.go`, `websocket_router.go`):
//! - a bad or missing token on the upgrade still upgrades; the socket then waits (5 s) for an
//!   `authentication_challenge`, and a challenge with a bad token closes the socket;
//! - a fresh connection gets `hello` (seq 0); `seq` is given when an event is handed to a
//!   socket, and the last 128 handed over are kept (the server's dead queue);
//! - a reconnect with query `connection_id` + `sequence_number` naming a *disconnected*
//!   connection of the same user resumes it without `hello`: from the dead queue when that seq is
//!   still there, or losslessly when it is the next one; otherwise (loss) it gets a new
//!   `connection_id` and `hello` at seq 0. Unknown, expired (5 minutes), still-open or
//!   forgotten connections start afresh;
//! - events for a disconnected connection wait in its send queue (256) and go out, numbered,
//!   after the resume; a connection whose queue fills up (a slow live socket or too much waiting)
//!   is closed (close frame) and removed, as `closeAndRemoveConn` does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::auth::request_token;
use crate::ids::{is_valid_id, new_id};

/// Resolves a bearer token (session or bot access token) to the id of its user, if valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Handles a `user_typing` request: (user id, channel id, parent id) → whether the user may post
/// in that channel. The handler publishes the `typing` event (to the channel's members, omitting
/// the typist, data `{parent_id, user_id}`) as `PublishUserTyping` does; `false` is answered as
/// an invalid `channel_id`, like the server's permission check.
pub type TypingHandler = Arc<dyn Fn(&str, &str, &str) -> bool + Send + Sync>;

/// The `broadcast` object of an event envelope, as the real server sends it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Broadcast {
    /// Users that must not receive the event (`null` when none).
    pub omit_users: Option<HashMap<String, bool>>,
    /// The single user the event is for, or empty.
    pub user_id: String,
    /// The channel the event is about, or empty.
    pub channel_id: String,
    /// The team the event is about, or empty.
    pub team_id: String,
}

/// Events kept per connection for replay (`deadQueueSize` in `web_conn.go`).
pub const DEAD_QUEUE_SIZE: usize = 128;
/// Frames that may wait for a live socket before it counts as too slow (`sendQueueSize`).
const SEND_QUEUE_SIZE: usize = 256;
/// Largest request frame a client may send (`model.SocketMaxMessageSizeKb`, 8 KiB).
const SOCKET_MAX_MESSAGE_SIZE: usize = 8 * 1024;
/// How long a disconnected connection stays resumable (`inactiveConnReaperInterval`).
const RESUMABLE_FOR: Duration = Duration::from_secs(5 * 60);
/// An unauthenticated socket is closed after this (`authCheckInterval`).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The server pings every `pingInterval` and closes a socket silent for `pongWaitTime`.
const PING_INTERVAL: Duration = Duration::from_secs(60);
const PONG_WAIT: Duration = Duration::from_secs(100);

/// Registry of live and resumable WebSocket connections; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    check: TokenCheck,
    server_version: String,
    hostname: Option<String>,
    typing: Mutex<Option<TypingHandler>>,
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    /// Connections by connection id.
    conns: HashMap<String, Conn>,
    /// Distinguishes successive sockets attached to the same connection.
    next_attach: u64,
}

/// An event without its `seq`: the JSON object minus its closing brace (the real server's
/// precomputed JSON), completed per connection by [`render`].
type Body = Arc<str>;

/// One logical connection (the server's `WebConn`): survives socket drops until reaped, removed
/// or forgotten.
struct Conn {
    user_id: String,
    /// The seq the next event handed to a socket gets (`WebConn.Sequence`).
    next_seq: i64,
    /// The last [`DEAD_QUEUE_SIZE`] events handed to a socket (seq, frame), contiguous in seq.
    dead: VecDeque<(i64, Arc<str>)>,
    /// Events published while no socket was attached, numbered when handed to one
    /// (the server's active queue of an inactive connection).
    pending: VecDeque<Body>,
    live: Option<Live>,
    disconnected_at: Instant,
}

/// The socket currently attached to a connection.
struct Live {
    attach: u64,
    tx: mpsc::Sender<Arc<str>>,
    /// Sending on this closes the socket with a close frame; dropping it drops the socket.
    close: oneshot::Sender<()>,
}

/// What a socket task gets when it is attached to a connection.
struct Attached {
    user_id: String,
    conn_id: String,
    attach: u64,
    tx: mpsc::Sender<Arc<str>>,
    rx: mpsc::Receiver<Arc<str>>,
    close: oneshot::Receiver<()>,
}

/// How a socket task is told to stop.
enum Stop {
    /// The socket is simply dropped (as when the network goes away).
    Drop,
    /// A close frame is sent first (the server closing a connection it removed).
    Close,
}

fn render(body: &str, seq: i64) -> Arc<str> {
    format!("{body},\"seq\":{seq}}}").into()
}

impl Conn {
    fn new(user_id: &str) -> Conn {
        Conn {
            user_id: user_id.to_owned(),
            next_seq: 0,
            dead: VecDeque::new(),
            pending: VecDeque::new(),
            live: None,
            disconnected_at: Instant::now(),
        }
    }

    /// Numbers `body`, keeps it in the dead queue and hands it to the socket.
    /// False when the socket's queue is full.
    fn send(&mut self, body: &str) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = render(body, seq);
        self.dead.push_back((seq, frame.clone()));
        while self.dead.len() > DEAD_QUEUE_SIZE {
            self.dead.pop_front();
        }
        match &self.live {
            Some(live) => live.tx.try_send(frame).is_ok(),
            None => true,
        }
    }

    /// Queues an event for this connection; false when it must be removed (queue full).
    fn deliver(&mut self, body: Body) -> bool {
        if self.live.is_some() {
            return self.send(&body);
        }
        if self.pending.len() >= SEND_QUEUE_SIZE {
            return false;
        }
        self.pending.push_back(body);
        true
    }

    /// Where a resume at `seq` starts in the dead queue: `Some(index)` when `seq` was sent and is
    /// still buffered, `Some(len)` when nothing was missed, `None` on loss (`isInDeadQueue`,
    /// `hasMsgLoss`).
    fn resume_index(&self, seq: i64) -> Option<usize> {
        if let Some(index) = self.dead.iter().position(|(s, _)| *s == seq) {
            return Some(index);
        }
        match self.dead.back() {
            None => Some(0),
            Some((last, _)) if *last == seq - 1 => Some(self.dead.len()),
            Some(_) => None,
        }
    }

    /// Detaches the live socket (if any) and makes its task stop.
    fn detach(&mut self, stop: Stop) {
        if let Some(live) = self.live.take() {
            self.disconnected_at = Instant::now();
            if let Stop::Close = stop {
                let _ = live.close.send(());
            }
        }
    }
}

impl Hub {
    /// A hub that authenticates connections with `check` and reports `server_version` in `hello`.
    pub fn new(server_version: impl Into<String>, check: TokenCheck) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                check,
                server_version: server_version.into(),
                hostname: hostname(),
                typing: Mutex::new(None),
                state: Mutex::new(HubState::default()),
            }),
        }
    }

    /// Sends `event` to every connection (live, or disconnected but resumable) of each user in
    /// `users`. `data` builds the event's `data` per recipient user id (e.g. `mentions` only for
    /// the mentioned user).
    ///
    /// As on the real server, a non-empty `broadcast.user_id` restricts delivery to that user and
    /// users in `broadcast.omit_users` get nothing. A connection whose queue is full (a live
    /// socket that cannot keep up, or 256 events waiting for a disconnected one) is closed and
    /// removed, so its client starts afresh (`closeAndRemoveConn`).
    pub fn publish(
        &self,
        event: &str,
        users: &[String],
        broadcast: &Broadcast,
        data: &dyn Fn(&str) -> Value,
    ) {
        let wanted: HashSet<&str> = users
            .iter()
            .map(String::as_str)
            .filter(|user| broadcast.user_id.is_empty() || *user == broadcast.user_id)
            .filter(|user| {
                !broadcast
                    .omit_users
                    .as_ref()
                    .is_some_and(|omit| omit.contains_key(*user))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let broadcast = broadcast_json(broadcast);
        let mut per_user: HashMap<String, Body> = HashMap::new();
        let mut state = self.lock();
        reap(&mut state);
        let mut removed = Vec::new();
        for (conn_id, conn) in state.conns.iter_mut() {
            if !wanted.contains(conn.user_id.as_str()) {
                continue;
            }
            let body = per_user
                .entry(conn.user_id.clone())
                .or_insert_with(|| event_body(event, data(&conn.user_id), broadcast.clone()))
                .clone();
            if !conn.deliver(body) {
                conn.detach(Stop::Close);
                removed.push(conn_id.clone());
            }
        }
        for conn_id in removed {
            state.conns.remove(&conn_id);
        }
    }

    /// Closes every open WebSocket at once (fault injection); the connections stay resumable.
    pub fn drop_all(&self) {
        let mut state = self.lock();
        for conn in state.conns.values_mut() {
            conn.detach(Stop::Drop);
        }
    }

    /// Forgets every resumable connection, as after a server restart or a long outage.
    pub fn forget_sessions(&self) {
        let mut state = self.lock();
        for conn in state.conns.values_mut() {
            conn.detach(Stop::Drop);
        }
        state.conns.clear();
    }

    /// The router serving `GET /api/v4/websocket`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/api/v4/websocket", get(upgrade))
            // The real route optionally takes a trailing slash.
            .route("/api/v4/websocket/", get(upgrade))
            .with_state(self.clone())
    }

    /// Sets what `user_typing` requests do (without one they are only validated).
    pub fn on_typing(&self, handler: TypingHandler) {
        *self
            .inner
            .typing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }

    fn typing_handler(&self) -> Option<TypingHandler> {
        self.inner
            .typing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Number of sockets currently attached (for tests and diagnostics).
    pub fn live_connections(&self) -> usize {
        self.lock()
            .conns
            .values()
            .filter(|conn| conn.live.is_some())
            .count()
    }

    /// Users with at least one socket attached.
    fn online_users(&self) -> HashSet<String> {
        self.lock()
            .conns
            .values()
            .filter(|conn| conn.live.is_some())
            .map(|conn| conn.user_id.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check_token(&self, token: &str) -> Option<String> {
        (self.inner.check)(token)
    }

    /// Attaches a new socket of `user_id`, resuming `resume` = (connection id, next seq) when
    /// that disconnected connection exists; otherwise a fresh connection with a `hello`.
    fn attach(&self, user_id: &str, resume: Option<(&str, i64)>) -> Attached {
        let mut state = self.lock();
        reap(&mut state);
        state.next_attach += 1;
        let attach = state.next_attach;
        // Room for a full dead queue replay followed by a full pending queue.
        let (tx, rx) = mpsc::channel(DEAD_QUEUE_SIZE + SEND_QUEUE_SIZE);
        let (close_tx, close) = oneshot::channel();
        let live = Live {
            attach,
            tx: tx.clone(),
            close: close_tx,
        };

        // Only a connection whose socket is gone can be taken over (RemoveInactiveByConnectionID).
        let found = resume.and_then(|(id, seq)| {
            let conn = state.conns.get(id)?;
            (conn.user_id == user_id && conn.live.is_none()).then(|| (id.to_owned(), seq))
        });
        let (conn_id, mut conn) = match found.and_then(|(id, seq)| {
            let conn = state.conns.remove(&id)?;
            Some((id, seq, conn))
        }) {
            Some((old_id, seq, mut conn)) => match conn.resume_index(seq) {
                Some(index) => {
                    // Replay what the client missed, with the seqs it had (drainDeadQueue).
                    for (_, frame) in conn.dead.iter().skip(index) {
                        let _ = tx.try_send(frame.clone());
                    }
                    conn.live = Some(live);
                    (old_id, conn)
                }
                None => {
                    // Lossy resume: same connection, new identity, hello at seq 0 (writePump).
                    conn.dead.clear();
                    conn.next_seq = 0;
                    conn.live = Some(live);
                    let conn_id = new_id();
                    self.hello(&mut conn, &conn_id);
                    (conn_id, conn)
                }
            },
            None => {
                let conn_id = new_id();
                let mut conn = Conn::new(user_id);
                conn.live = Some(live);
                self.hello(&mut conn, &conn_id);
                (conn_id, conn)
            }
        };
        // What waited while no socket was attached goes out now, numbered on the way.
        while let Some(body) = conn.pending.pop_front() {
            conn.send(&body);
        }
        state.conns.insert(conn_id.clone(), conn);
        Attached {
            user_id: user_id.to_owned(),
            conn_id,
            attach,
            tx,
            rx,
            close,
        }
    }

    /// Sends the `hello` event (it takes a seq and is kept in the dead queue like any event).
    fn hello(&self, conn: &mut Conn, conn_id: &str) {
        let mut data = json!({
            "server_version": self.inner.server_version,
            "connection_id": conn_id,
        });
        if let Some(hostname) = &self.inner.hostname {
            data["server_hostname"] = json!(hostname);
        }
        let broadcast = broadcast_json(&Broadcast {
            user_id: conn.user_id.clone(),
            ..Broadcast::default()
        });
        conn.send(&event_body("hello", data, broadcast));
    }

    /// Marks the connection disconnected if `attach` is still its socket.
    fn detach(&self, conn_id: &str, attach: u64) {
        let mut state = self.lock();
        if let Some(conn) = state.conns.get_mut(conn_id) {
            if conn.live.as_ref().is_some_and(|live| live.attach == attach) {
                conn.detach(Stop::Drop);
            }
        }
    }
}

/// Drops connections disconnected for longer than [`RESUMABLE_FOR`].
fn reap(state: &mut HubState) {
    state
        .conns
        .retain(|_, conn| conn.live.is_some() || conn.disconnected_at.elapsed() < RESUMABLE_FOR);
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| Some("sandbox".to_owned()))
}

/// The `broadcast` object with every field the real server serializes.
fn broadcast_json(broadcast: &Broadcast) -> Value {
    json!({
        "omit_users": broadcast.omit_users,
        "user_id": broadcast.user_id,
        "channel_id": broadcast.channel_id,
        "team_id": broadcast.team_id,
        "connection_id": "",
        "omit_connection_id": "",
    })
}

/// The event's JSON without `seq` and without the closing brace (see [`render`]).
fn event_body(event: &str, data: Value, broadcast: Value) -> Body {
    let mut json = json!({"event": event, "data": data, "broadcast": broadcast}).to_string();
    json.pop();
    json.into()
}

/// A `{"status":"OK","seq_reply":n,"data":…}` answer (`model.NewWebSocketResponse`).
fn ok_response(seq_reply: i64, data: Option<Value>) -> Arc<str> {
    let mut response = json!({"status": "OK", "seq_reply": seq_reply});
    if let Some(data) = data {
        response["data"] = data;
    }
    response.to_string().into()
}

/// A `{"status":"FAIL","seq_reply":n,"error":AppError}` answer (`model.NewWebSocketError`).
fn error_response(seq_reply: i64, id: &str, message: &str, status: u16) -> Arc<str> {
    let mut response = json!({
        "status": "FAIL",
        "error": {
            "id": id,
            "message": message,
            "detailed_error": "",
            "status_code": status,
        },
    });
    // `seq_reply` is `omitempty` on the server.
    if seq_reply != 0 {
        response["seq_reply"] = json!(seq_reply);
    }
    response.to_string().into()
}

/// A request frame from a client (`model.WebSocketRequest`).
#[derive(serde::Deserialize)]
struct Request {
    #[serde(default)]
    seq: i64,
    #[serde(default)]
    action: String,
    #[serde(default)]
    data: Option<serde_json::Map<String, Value>>,
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
    // A bad token is not refused here: the endpoint trusts the requester and the socket waits
    // for an authentication challenge instead (APIHandlerTrustRequester).
    let user_id = request_token(&headers).and_then(|token| hub.check_token(&token));
    let resume = resume_request(query.as_deref());
    ws.max_message_size(SOCKET_MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| serve(hub, socket, user_id, resume))
}

async fn serve(hub: Hub, socket: WebSocket, user_id: Option<String>, resume: ResumeRequest) {
    let attached = match (user_id, resume) {
        (Some(_), ResumeRequest::Invalid) => return,
        (Some(user), ResumeRequest::Resume(id, seq)) => Some(hub.attach(&user, Some((&id, seq)))),
        (Some(user), ResumeRequest::Fresh) => Some(hub.attach(&user, None)),
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
            let attached = self.hub.attach(&user_id, None);
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
                    "version": version_of(&self.hub.inner.server_version),
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

fn invalid_param(seq: i64, name: &str) -> Arc<str> {
    error_response(
        seq,
        "api.websocket_handler.invalid_param.app_error",
        &format!("Invalid {name} parameter."),
        400,
    )
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

    /// A disconnected connection that has sent seqs `0..sent`.
    fn conn_with(sent: i64) -> Conn {
        let mut conn = Conn::new("u");
        for n in 0..sent {
            conn.send(&event_body("e", json!(n), json!({})));
        }
        conn
    }

    #[test]
    fn resume_needs_the_asked_seq_in_the_dead_queue_or_no_loss() {
        let conn = conn_with(10);
        assert_eq!(conn.resume_index(0), Some(0));
        assert_eq!(conn.resume_index(9), Some(9));
        assert_eq!(
            conn.resume_index(10),
            Some(10),
            "nothing missed is lossless"
        );
        assert_eq!(conn.resume_index(11), None);
        assert_eq!(conn.resume_index(-1), None);
    }

    #[test]
    fn the_dead_queue_keeps_only_its_size() {
        let conn = conn_with(200);
        assert_eq!(conn.dead.len(), DEAD_QUEUE_SIZE);
        let oldest = 200 - DEAD_QUEUE_SIZE as i64;
        assert_eq!(conn.resume_index(oldest - 1), None);
        assert_eq!(conn.resume_index(oldest), Some(0));
    }

    #[test]
    fn frames_are_the_event_with_its_seq() {
        let body = event_body("posted", json!({"a": 1}), json!({"user_id": ""}));
        let frame: Value = serde_json::from_str(&render(&body, 7)).unwrap();
        assert_eq!(
            frame,
            json!({"event": "posted", "data": {"a": 1}, "broadcast": {"user_id": ""}, "seq": 7})
        );
    }

    #[test]
    fn a_disconnected_connection_holds_at_most_the_send_queue() {
        let mut conn = conn_with(1);
        for _ in 0..SEND_QUEUE_SIZE {
            assert!(conn.deliver(Arc::from("{")));
        }
        assert!(!conn.deliver(Arc::from("{")));
    }

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

    #[test]
    fn error_answers_have_the_app_error_shape() {
        let v: Value = serde_json::from_str(&error_response(3, "x.y", "m", 500)).unwrap();
        assert_eq!(v["status"], "FAIL");
        assert_eq!(v["seq_reply"], 3);
        assert_eq!(v["error"]["id"], "x.y");
        assert_eq!(v["error"]["status_code"], 500);
    }
}
