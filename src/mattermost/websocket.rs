//! The bot's WebSocket listener: connects with the bot token, keeps the connection alive with
//! pings, reconnects with backoff and resumes where it left off, and tells the domain when
//! events may have been lost so it can reconcile over REST.
//!
//! Resume protocol (server `platform/web_conn.go`, web app `@mattermost/client` `websocket.js`):
//! a reconnect passes `connection_id` and `sequence_number` (the next `seq` expected). The server
//! then either replays what we missed and continues the numbering without a new `hello`, or —
//! when it no longer has the connection or the missed events — answers with a `hello` carrying
//! a NEW `connection_id` and counts from 0 again: events were lost.
//!
//! On a `seq` gap inside a connection we do what the web app does: drop the early frame, close,
//! and reconnect at once asking for the missing `seq`. A server that still buffers the events
//! replays them (nothing lost, nothing duplicated: frames below the expected `seq` are
//! skipped); one that does not answers with a new `hello` and we report `ResyncNeeded`.
//! Accepting the gap instead would lose the events for good (a missed `posted` command cannot
//! be reconciled), so we only do so after `max_gap_reconnects` attempts that made no progress,
//! then report `ResyncNeeded` and continue with the server's numbering.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use url::Url;

use super::client::Client;
use super::events::{Event, Frame};
use super::retry::{rate_limit_wait, Backoff};

/// Tuning of the WebSocket listener.
#[derive(Clone, Debug)]
pub struct WsOptions {
    /// How often to ping; a connection with no frame at all for two intervals is dead.
    pub ping_interval: Duration,
    /// Delay between reconnect attempts (grows while the server stays unreachable).
    pub backoff: Backoff,
    /// Limit for TCP + TLS + upgrade.
    pub connect_timeout: Duration,
    /// Room in the message channel before the listener waits for the consumer.
    pub channel_capacity: usize,
    /// Immediate reconnects tried to recover the events of one `seq` gap before accepting it.
    pub max_gap_reconnects: u32,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            ping_interval: Duration::from_secs(30),
            backoff: Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            connect_timeout: Duration::from_secs(10),
            channel_capacity: 1024,
            max_gap_reconnects: 3,
        }
    }
}

/// Where to resume: the server's id for our connection and the next `seq` we expect. Holds
/// nothing secret, so the store may persist it across restarts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub connection_id: String,
    pub next_seq: i64,
}

/// Called with the new resume point after every event handed to the consumer (and after each
/// `hello`); implementations should be cheap (e.g. store the latest and flush periodically).
pub type ResumeCallback = Arc<dyn Fn(&ResumePoint) + Send + Sync>;

/// What the listener reports, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum WsMessage {
    /// The server is talking to us. `resumed` is true when it continued our previous
    /// connection (no event lost); false for a fresh numbering.
    Connected {
        connection_id: String,
        resumed: bool,
    },
    /// A server event, delivered once and in `seq` order.
    Event(Event),
    /// Events were lost: reconcile over REST. Sent before the events of the new numbering.
    ResyncNeeded { reason: ResyncReason },
    /// The connection ended; the listener is reconnecting.
    Disconnected { reason: String },
    /// Only with [`WsConfig::checkpoints`]: every message before this one has been sent, so
    /// once the consumer has handled them it may persist this resume point. Saving it then,
    /// and not when an event merely arrives, means an event the domain had not finished with
    /// when the process died is replayed after a restart.
    Checkpoint(ResumePoint),
}

/// Why events may have been lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResyncReason {
    /// The server could not resume our connection (restart, long outage, events no longer
    /// buffered) and started a new one.
    NewConnection { previous: String, current: String },
    /// The server skipped `seq` numbers and could not replay them.
    SequenceGap { expected: i64, received: i64 },
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncReason::NewConnection { .. } => {
                f.write_str("the server started a new connection")
            }
            ResyncReason::SequenceGap { expected, received } => {
                write!(f, "the server skipped events {expected}..{received}")
            }
        }
    }
}

/// Whether the listener currently has a live connection (for `/readyz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connected,
}

/// How to start the listener.
#[derive(Clone, Default)]
pub struct WsConfig {
    pub options: WsOptions,
    /// Resume point persisted by a previous run, if any.
    pub resume_from: Option<ResumePoint>,
    /// Called with the resume point as soon as events are sent (cheap, no ordering promise).
    pub on_resume_point: Option<ResumeCallback>,
    /// Also send [`WsMessage::Checkpoint`] after each event and `hello`, in order with them.
    pub checkpoints: bool,
}

/// A running listener.
pub struct WsHandle {
    /// Everything the listener reports; closed when it stops.
    pub messages: mpsc::Receiver<WsMessage>,
    /// Live connection state.
    pub state: watch::Receiver<ConnectionState>,
    /// The listener task; ends after shutdown or when `messages` is dropped.
    pub task: JoinHandle<()>,
}

impl Client {
    /// Starts the WebSocket listener in a task. Setting `shutdown` to true (or dropping its
    /// sender) closes the connection and ends the task.
    pub fn websocket(&self, config: WsConfig, shutdown: watch::Receiver<bool>) -> WsHandle {
        let (tx, messages) = mpsc::channel(config.options.channel_capacity.max(1));
        let (state_tx, state) = watch::channel(ConnectionState::Disconnected);
        let (connection_id, next_seq) = match config.resume_from {
            Some(point) if !point.connection_id.is_empty() && point.next_seq >= 0 => {
                (Some(point.connection_id), point.next_seq)
            }
            _ => (None, 0),
        };
        let worker = Worker {
            client: self.clone(),
            options: config.options,
            on_resume: config.on_resume_point,
            checkpoints: config.checkpoints,
            tx,
            state: state_tx,
            connection_id,
            next_seq,
            gap_reconnects: 0,
        };
        let task = tokio::spawn(worker.run(shutdown));
        WsHandle {
            messages,
            state,
            task,
        }
    }
}

/// Any byte stream the WebSocket can run over (plain TCP or TLS).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// Why one connection ended.
enum End {
    Shutdown,
    /// The consumer dropped the message channel: nobody listens any more.
    ReceiverGone,
    Dropped(String),
    /// Missed events: reconnect at once asking for `expected`.
    Gap {
        expected: i64,
        received: i64,
    },
}

struct Worker {
    client: Client,
    options: WsOptions,
    on_resume: Option<ResumeCallback>,
    checkpoints: bool,
    tx: mpsc::Sender<WsMessage>,
    state: watch::Sender<ConnectionState>,
    connection_id: Option<String>,
    next_seq: i64,
    gap_reconnects: u32,
}

/// Resolves when `shutdown` turns true or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

impl Worker {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0u32;
        let mut tls = None;
        let mut server_wait: Option<Duration> = None;
        loop {
            let url = match self.url() {
                Ok(url) => url,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the WebSocket URL");
                    break;
                }
            };
            // The upgrade counts against the server's rate limit like any call (the limiter
            // wraps every route, `/api/v4/websocket` included): it waits its turn too.
            let gate = self.client.gate();
            let (timeout, token) = (self.options.connect_timeout, self.client.token());
            let tls = &mut tls;
            let connect = async move {
                let _probe = gate.probe().await;
                gate.wait_open().await;
                let ticket = gate.wait_turn().await;
                let opened = tokio::time::timeout(timeout, open(&url, token, tls)).await;
                match &opened {
                    Ok(Ok((_, headers))) => gate.observe(&ticket, 101, headers),
                    Ok(Err(OpenError {
                        answer: Some(answer),
                        ..
                    })) => gate.observe(&ticket, answer.0, &answer.1),
                    _ => {}
                }
                opened.map(|opened| opened.map(|(socket, _)| socket))
            };
            let opened = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                opened = connect => opened,
            };
            match opened {
                Ok(Ok(socket)) => {
                    let opened_at = Instant::now();
                    let (end, heard) = self.serve(socket, &mut shutdown).await;
                    // Only a connection that worked for a while ends an outage; one the server
                    // keeps closing right away must not cause a reconnect storm.
                    if heard && opened_at.elapsed() >= self.options.ping_interval {
                        failures = 0;
                    }
                    let reason = match &end {
                        End::Shutdown | End::ReceiverGone => break,
                        End::Dropped(reason) => reason.clone(),
                        End::Gap { expected, received } => format!(
                            "missed events {expected}..{received}, reconnecting to get them replayed"
                        ),
                    };
                    tracing::info!(reason = %reason, "Mattermost WebSocket disconnected");
                    if self.state.send_replace(ConnectionState::Disconnected)
                        == ConnectionState::Connected
                        && !self.emit(WsMessage::Disconnected { reason }).await
                    {
                        break;
                    }
                    if matches!(end, End::Gap { .. }) {
                        continue;
                    }
                }
                Ok(Err(e)) => {
                    let level_warn = failures == 0 || failures.is_multiple_of(10);
                    if level_warn {
                        tracing::warn!(error = %e.message, attempt = failures + 1, "Mattermost WebSocket connect failed");
                    } else {
                        tracing::debug!(error = %e.message, attempt = failures + 1, "Mattermost WebSocket connect failed");
                    }
                    server_wait = e.retry_after;
                }
                Err(_) => {
                    tracing::warn!(
                        attempt = failures + 1,
                        "Mattermost WebSocket connect timed out"
                    );
                }
            }
            // A rate-limited upgrade says how long to stay away.
            let delay = self
                .options
                .backoff
                .delay(failures)
                .max(server_wait.take().unwrap_or_default());
            failures = failures.saturating_add(1);
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        self.state.send_replace(ConnectionState::Disconnected);
    }

    /// `ws(s)://…/api/v4/websocket`, with the resume parameters once we have a connection id.
    fn url(&self) -> Result<Url, String> {
        let mut url = self
            .client
            .url("/api/v4/websocket")
            .map_err(|e| e.to_string())?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| "cannot switch the URL to a WebSocket scheme".to_owned())?;
        if let Some(id) = &self.connection_id {
            url.query_pairs_mut()
                .append_pair("connection_id", id)
                .append_pair("sequence_number", &self.next_seq.to_string());
        }
        Ok(url)
    }

    /// Runs one connection until it ends. Returns why, and whether the server said anything.
    async fn serve(&mut self, socket: Socket, shutdown: &mut watch::Receiver<bool>) -> (End, bool) {
        let (mut sink, mut stream) = socket.split();
        let resuming = self.connection_id.is_some();
        let mut announced = false;
        let mut action_seq = 1i64;
        let interval = self.options.ping_interval;
        // Ping at once: the answer proves the connection works even when no event is pending.
        if let Err(e) = sink.send(ping(action_seq)).await {
            return (End::Dropped(format!("could not send ping: {e}")), false);
        }
        let mut last_heard = Instant::now();
        let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped(shutdown) => {
                    let _ = sink.send(Message::Close(None)).await;
                    return (End::Shutdown, announced);
                }
                _ = ticker.tick() => {
                    if last_heard.elapsed() >= interval * 2 {
                        return (End::Dropped("no answer to ping".into()), announced);
                    }
                    action_seq += 1;
                    if let Err(e) = sink.send(ping(action_seq)).await {
                        return (End::Dropped(format!("could not send ping: {e}")), announced);
                    }
                }
                frame = stream.next() => {
                    match frame {
                        None => return (End::Dropped("connection closed".into()), announced),
                        Some(Err(e)) => return (End::Dropped(format!("read failed: {e}")), announced),
                        Some(Ok(Message::Close(close))) => {
                            let why = close.map(|c| format!("closed by server ({} {})", c.code, c.reason))
                                .unwrap_or_else(|| "closed by server".into());
                            return (End::Dropped(why), announced);
                        }
                        Some(Ok(Message::Text(text))) => {
                            if let Some(end) = self.on_text(text.as_str(), resuming, &mut announced).await {
                                return (end, announced);
                            }
                            // Time spent waiting for a slow consumer is not the server's silence.
                            last_heard = Instant::now();
                        }
                        Some(Ok(_)) => last_heard = Instant::now(),
                    }
                }
            }
        }
    }

    /// Handles one text frame; `Some` ends the connection.
    async fn on_text(&mut self, text: &str, resuming: bool, announced: &mut bool) -> Option<End> {
        let frame: Frame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a WebSocket frame that is not JSON");
                return None;
            }
        };
        if frame.event.is_empty() {
            // A reply to one of our actions (ping → pong): no `seq` of its own.
            if frame.seq_reply.is_none() {
                tracing::debug!("skipping a WebSocket frame with neither event nor seq_reply");
            } else if frame.status != "OK" {
                tracing::debug!(status = %frame.status, "WebSocket action answered with an error");
            }
            // When resuming, a lossless resume has no hello: the pong is the first sign of life.
            // A fresh connection always starts with a hello, which announces it.
            if !*announced && resuming {
                return self.announce(resuming, announced).await;
            }
            return None;
        }
        if frame.event == "hello" {
            self.observe(&frame.event);
            return self.on_hello(&frame, announced).await;
        }
        if !*announced {
            if let Some(end) = self.announce(resuming, announced).await {
                return Some(end);
            }
        }
        if let Some(seq) = frame.seq {
            if seq < self.next_seq {
                tracing::debug!(
                    seq,
                    expected = self.next_seq,
                    "skipping an event seen before"
                );
                return None;
            }
            if seq > self.next_seq {
                let (expected, received) = (self.next_seq, seq);
                if self.gap_reconnects < self.options.max_gap_reconnects {
                    self.gap_reconnects += 1;
                    return Some(End::Gap { expected, received });
                }
                tracing::warn!(
                    expected,
                    received,
                    "Mattermost skipped WebSocket events; resyncing"
                );
                let reason = ResyncReason::SequenceGap { expected, received };
                if !self.emit(WsMessage::ResyncNeeded { reason }).await {
                    return Some(End::ReceiverGone);
                }
            }
            self.next_seq = seq + 1;
            self.gap_reconnects = 0;
        }
        self.observe(&frame.event);
        match Event::decode(&frame.event, &frame.data, &frame.broadcast) {
            Ok(event) => {
                if let Event::Other { event, .. } = &event {
                    tracing::debug!(event = %event, "WebSocket event the bot does not type");
                }
                if !self.emit(WsMessage::Event(event)).await {
                    return Some(End::ReceiverGone);
                }
            }
            Err(reason) => tracing::warn!(reason = %reason, "skipping a malformed WebSocket event"),
        }
        if !self.checkpoint().await {
            return Some(End::ReceiverGone);
        }
        None
    }

    /// `hello`: a fresh numbering. A different id than the one we resumed means lost events.
    async fn on_hello(&mut self, frame: &Frame, announced: &mut bool) -> Option<End> {
        let connection_id = match Event::decode(&frame.event, &frame.data, &frame.broadcast) {
            Ok(Event::Hello { connection_id, .. }) => connection_id,
            _ => return Some(End::Dropped("malformed hello".into())),
        };
        let mut renumbered = false;
        let resumed = match self.connection_id.replace(connection_id.clone()) {
            Some(previous) if previous != connection_id => {
                renumbered = true;
                tracing::info!("Mattermost could not resume the WebSocket connection; resyncing");
                let reason = ResyncReason::NewConnection {
                    previous,
                    current: connection_id.clone(),
                };
                if !self.emit(WsMessage::ResyncNeeded { reason }).await {
                    return Some(End::ReceiverGone);
                }
                false
            }
            Some(_) => true,
            None => false,
        };
        if resumed {
            // Same connection: the hello takes its place in the numbering like any event.
            if let Some(seq) = frame.seq {
                self.next_seq = self.next_seq.max(seq + 1);
            }
        } else {
            self.next_seq = frame.seq.unwrap_or(0) + 1;
        }
        self.gap_reconnects = 0;
        if !self.checkpoint().await {
            return Some(End::ReceiverGone);
        }
        // Announce a connection once, or again when the server replaced the one we announced
        // (a pong may have arrived before its hello).
        if !*announced || renumbered {
            *announced = true;
            self.state.send_replace(ConnectionState::Connected);
            tracing::info!(resumed, "Mattermost WebSocket connected");
            if !self
                .emit(WsMessage::Connected {
                    connection_id,
                    resumed,
                })
                .await
            {
                return Some(End::ReceiverGone);
            }
        }
        None
    }

    /// The first frame of a connection that is not a `hello`: the server continued the
    /// connection we asked to resume.
    async fn announce(&mut self, resuming: bool, announced: &mut bool) -> Option<End> {
        *announced = true;
        self.state.send_replace(ConnectionState::Connected);
        tracing::info!(resumed = resuming, "Mattermost WebSocket connected");
        let message = WsMessage::Connected {
            connection_id: self.connection_id.clone().unwrap_or_default(),
            resumed: resuming,
        };
        if self.emit(message).await {
            None
        } else {
            Some(End::ReceiverGone)
        }
    }

    fn observe(&self, event: &str) {
        if let Some(observer) = &self.client.options().observer {
            observer.ws_event(event);
        }
    }

    async fn emit(&self, message: WsMessage) -> bool {
        self.tx.send(message).await.is_ok()
    }

    /// Reports the resume point: to the callback at once, and in order as a message when
    /// checkpoints are on. False when nobody listens any more.
    async fn checkpoint(&self) -> bool {
        let Some(connection_id) = &self.connection_id else {
            return true;
        };
        let point = ResumePoint {
            connection_id: connection_id.clone(),
            next_seq: self.next_seq,
        };
        if let Some(callback) = &self.on_resume {
            callback(&point);
        }
        !self.checkpoints || self.emit(WsMessage::Checkpoint(point)).await
    }
}

fn ping(seq: i64) -> Message {
    Message::Text(json!({"action": "ping", "seq": seq}).to_string().into())
}

/// Why a connection attempt failed.
struct OpenError {
    message: String,
    /// `Retry-After` / `X-Ratelimit-Reset` of a 429 answer to the upgrade.
    retry_after: Option<Duration>,
    /// The status and headers of the server's answer, when it refused the upgrade.
    answer: Option<Box<(u16, reqwest::header::HeaderMap)>>,
}

impl From<String> for OpenError {
    fn from(message: String) -> Self {
        OpenError {
            message,
            retry_after: None,
            answer: None,
        }
    }
}

impl From<&str> for OpenError {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// TCP (+ TLS for `wss`) + the upgrade, authenticated with the bot token.
async fn open(
    url: &Url,
    token: &str,
    tls: &mut Option<tokio_rustls::TlsConnector>,
) -> Result<(Socket, reqwest::header::HeaderMap), OpenError> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let tcp = TcpStream::connect(format!("{host}:{port}"))
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if url.scheme() == "wss" {
        let connector = match tls {
            Some(connector) => connector.clone(),
            None => tls.insert(tls_connector()?).clone(),
        };
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
        )
        .map_err(|e| format!("bad TLS server name: {e}"))?;
        Box::new(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?,
        )
    } else {
        Box::new(tcp)
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad WebSocket request: {e}"))?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the bot token has characters not allowed in a header".to_owned())?;
    auth.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, auth);
    match tokio_tungstenite::client_async(request, io).await {
        Ok((socket, response)) => Ok((socket, response.headers().clone())),
        Err(tungstenite::Error::Http(response)) => Err(OpenError {
            message: format!("upgrade refused with status {}", response.status()),
            retry_after: if response.status().as_u16() == 429 {
                rate_limit_wait(response.headers())
            } else {
                None
            },
            answer: Some(Box::new((
                response.status().as_u16(),
                response.headers().clone(),
            ))),
        }),
        Err(e) => Err(format!("upgrade failed: {e}").into()),
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mattermost::ClientOptions;

    fn worker(base: &str, resume: Option<ResumePoint>) -> Worker {
        let client = Client::new(base, "tok", ClientOptions::default()).unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let (state, _) = watch::channel(ConnectionState::Disconnected);
        let (connection_id, next_seq) = resume
            .map(|p| (Some(p.connection_id), p.next_seq))
            .unwrap_or((None, 0));
        Worker {
            client,
            options: WsOptions::default(),
            on_resume: None,
            checkpoints: false,
            tx,
            state,
            connection_id,
            next_seq,
            gap_reconnects: 0,
        }
    }

    #[test]
    fn websocket_url_follows_the_base_scheme_and_resume_point() {
        let w = worker("https://chat.example.com/mm", None);
        assert_eq!(
            w.url().unwrap().as_str(),
            "wss://chat.example.com/mm/api/v4/websocket"
        );
        let w = worker(
            "http://127.0.0.1:8065",
            Some(ResumePoint {
                connection_id: "abc123".into(),
                next_seq: 42,
            }),
        );
        assert_eq!(
            w.url().unwrap().as_str(),
            "ws://127.0.0.1:8065/api/v4/websocket?connection_id=abc123&sequence_number=42"
        );
    }

    #[test]
    fn tls_connector_builds() {
        assert!(tls_connector().is_ok());
    }
}
