//! WebSocket listener against an in-process mock server: resume with replay, resync on a new
//! connection id or an unrecoverable gap, malformed events, dead connections, shutdown.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sharebot::mattermost::{
    Backoff, Client, ClientOptions, ConnectionState, Event, ResumePoint, ResyncReason, WsConfig,
    WsMessage, WsOptions,
};
use tokio::sync::{mpsc, watch};

/// What the mock does on one connection, in order.
#[derive(Clone, Debug)]
enum Step {
    Send(Value),
    SendRaw(&'static str),
    /// Close the connection.
    Close,
    /// Stay open, answering pings, until the client leaves.
    Hang,
    /// Stay open but never answer anything.
    Silent,
}

#[derive(Clone, Default)]
struct WsMock {
    scripts: Arc<Mutex<VecDeque<Vec<Step>>>>,
    /// Query string and Authorization header of each connection, in order.
    connections: Arc<Mutex<Vec<(String, String)>>>,
    /// Upgrades still to refuse with 429 `Retry-After: 1`, and when each attempt came.
    refusals: Arc<Mutex<u32>>,
    attempts: Arc<Mutex<Vec<tokio::time::Instant>>>,
}

async fn upgrade(
    State(mock): State<WsMock>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    mock.attempts
        .lock()
        .unwrap()
        .push(tokio::time::Instant::now());
    {
        let mut refusals = mock.refusals.lock().unwrap();
        if *refusals > 0 {
            *refusals -= 1;
            return (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", "1")],
                "limit exceeded\n",
            )
                .into_response();
        }
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    mock.connections
        .lock()
        .unwrap()
        .push((query.unwrap_or_default(), auth));
    let steps = mock
        .scripts
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(vec![Step::Hang]);
    ws.on_upgrade(move |socket| play(socket, steps))
}

async fn play(mut socket: WebSocket, steps: Vec<Step>) {
    for step in steps {
        match step {
            Step::Send(value) => {
                if socket
                    .send(Message::Text(value.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Step::SendRaw(text) => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            Step::Close => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            Step::Hang => {
                while let Some(Ok(message)) = socket.recv().await {
                    if let Message::Text(text) = message {
                        let request: Value =
                            serde_json::from_str(text.as_str()).unwrap_or_default();
                        if request["action"] == "ping" {
                            let pong = json!({"status": "OK", "seq_reply": request["seq"], "data": {"text": "pong"}});
                            if socket
                                .send(Message::Text(pong.to_string().into()))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                }
                return;
            }
            Step::Silent => {
                while let Some(Ok(_)) = socket.recv().await {}
                return;
            }
        }
    }
}

async fn start(scripts: Vec<Vec<Step>>) -> (WsMock, Client) {
    let mock = WsMock::default();
    mock.scripts.lock().unwrap().extend(scripts);
    let app = Router::new()
        .route("/api/v4/websocket", get(upgrade))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = Client::new(&format!("http://{addr}"), "tok", ClientOptions::default()).unwrap();
    (mock, client)
}

fn options() -> WsOptions {
    WsOptions {
        ping_interval: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        },
        connect_timeout: Duration::from_secs(2),
        channel_capacity: 64,
        max_gap_reconnects: 3,
    }
}

fn hello(connection_id: &str, seq: i64) -> Step {
    Step::Send(json!({
        "event": "hello", "seq": seq,
        "data": {"connection_id": connection_id, "server_version": "10.11.0"},
        "broadcast": {"omit_users": null, "user_id": "bot", "channel_id": "", "team_id": ""}
    }))
}

fn posted(post_id: &str, seq: i64) -> Step {
    let post = json!({"id": post_id, "channel_id": "c1", "user_id": "u1", "message": format!("msg {post_id}")});
    Step::Send(json!({
        "event": "posted", "seq": seq,
        "data": {"post": post.to_string(), "channel_type": "D", "channel_name": "bot__u1",
                 "sender_name": "@alice", "team_id": "", "mentions": "[\"bot\"]"},
        "broadcast": {"omit_users": null, "user_id": "", "channel_id": "c1", "team_id": ""}
    }))
}

/// Reads messages until `done` says so; panics after 5 s.
async fn read_until(
    rx: &mut mpsc::Receiver<WsMessage>,
    done: impl Fn(&[WsMessage]) -> bool,
) -> Vec<WsMessage> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done(&seen) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(message)) => seen.push(message),
            Ok(None) => panic!("listener stopped; got {seen:#?}"),
            Err(_) => panic!("timed out; got {seen:#?}"),
        }
    }
    seen
}

fn posted_ids(messages: &[WsMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            WsMessage::Event(Event::Posted { post, .. }) => Some(post.id.clone()),
            _ => None,
        })
        .collect()
}

fn resyncs(messages: &[WsMessage]) -> Vec<ResyncReason> {
    messages
        .iter()
        .filter_map(|m| match m {
            WsMessage::ResyncNeeded { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Gives a wrongly delivered extra message the chance to show up.
async fn assert_quiet(rx: &mut mpsc::Receiver<WsMessage>) {
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
        panic!("unexpected message {extra:?}");
    }
}

#[tokio::test]
async fn resume_replays_missed_events_exactly_once() {
    let (mock, client) = start(vec![
        vec![
            hello("conn0", 0),
            posted("p1", 1),
            posted("p2", 2),
            Step::Close,
        ],
        // The server resumes: no hello, numbering continues (one overlapping frame included).
        vec![
            posted("p2", 2),
            posted("p3", 3),
            posted("p4", 4),
            Step::Hang,
        ],
    ])
    .await;
    let points = Arc::new(Mutex::new(Vec::new()));
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            resume_from: None,
            on_resume_point: Some({
                let points = points.clone();
                Arc::new(move |p: &ResumePoint| points.lock().unwrap().push(p.clone()))
            }),
            checkpoints: false,
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| posted_ids(m).len() >= 4).await;
    assert_quiet(&mut handle.messages).await;

    assert_eq!(posted_ids(&seen), ["p1", "p2", "p3", "p4"]);
    assert!(resyncs(&seen).is_empty(), "{seen:#?}");
    assert_eq!(
        seen[0],
        WsMessage::Connected {
            connection_id: "conn0".into(),
            resumed: false
        }
    );
    assert!(seen.contains(&WsMessage::Connected {
        connection_id: "conn0".into(),
        resumed: true
    }));
    assert!(seen
        .iter()
        .any(|m| matches!(m, WsMessage::Disconnected { .. })));
    match &seen[1] {
        WsMessage::Event(Event::Posted {
            mentions,
            sender_name,
            ..
        }) => {
            assert_eq!(mentions, &["bot".to_owned()]);
            assert_eq!(sender_name, "@alice");
        }
        other => panic!("{other:?}"),
    }

    let connections = mock.connections.lock().unwrap().clone();
    assert_eq!(connections.len(), 2);
    assert_eq!(connections[0], (String::new(), "Bearer tok".to_owned()));
    assert_eq!(
        connections[1],
        (
            "connection_id=conn0&sequence_number=3".to_owned(),
            "Bearer tok".to_owned()
        )
    );
    assert_eq!(
        points.lock().unwrap().last(),
        Some(&ResumePoint {
            connection_id: "conn0".into(),
            next_seq: 5
        })
    );
    assert_eq!(*handle.state.borrow(), ConnectionState::Connected);
}

#[tokio::test]
async fn new_connection_id_on_reconnect_asks_for_resync() {
    let (mock, client) = start(vec![
        vec![hello("conn0", 0), posted("p1", 1), Step::Close],
        vec![hello("conn1", 0), posted("p2", 1), Step::Hang],
    ])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| posted_ids(m).len() >= 2).await;
    assert_quiet(&mut handle.messages).await;
    assert_eq!(posted_ids(&seen), ["p1", "p2"]);
    assert_eq!(
        resyncs(&seen),
        [ResyncReason::NewConnection {
            previous: "conn0".into(),
            current: "conn1".into()
        }]
    );
    // The resync comes before anything of the new numbering.
    let resync_at = seen
        .iter()
        .position(|m| matches!(m, WsMessage::ResyncNeeded { .. }))
        .unwrap();
    let p2_at = seen
        .iter()
        .position(|m| matches!(m, WsMessage::Event(Event::Posted { post, .. }) if post.id == "p2"))
        .unwrap();
    assert!(resync_at < p2_at);
    assert!(seen.contains(&WsMessage::Connected {
        connection_id: "conn1".into(),
        resumed: false
    }));
    assert_eq!(
        mock.connections.lock().unwrap()[1].0,
        "connection_id=conn0&sequence_number=2"
    );
}

#[tokio::test]
async fn seq_gap_is_recovered_by_replay_when_the_server_can() {
    let (mock, client) = start(vec![
        vec![
            hello("conn0", 0),
            posted("p1", 1),
            posted("p3", 3),
            Step::Hang,
        ],
        vec![posted("p2", 2), posted("p3", 3), Step::Hang],
    ])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| posted_ids(m).len() >= 3).await;
    assert_quiet(&mut handle.messages).await;
    assert_eq!(posted_ids(&seen), ["p1", "p2", "p3"]);
    assert!(resyncs(&seen).is_empty(), "{seen:#?}");
    assert_eq!(
        mock.connections.lock().unwrap()[1].0,
        "connection_id=conn0&sequence_number=2"
    );
}

#[tokio::test]
async fn seq_gap_the_server_cannot_replay_asks_for_resync() {
    let (_mock, client) = start(vec![
        vec![
            hello("conn0", 0),
            posted("p1", 1),
            posted("p3", 3),
            Step::Hang,
        ],
        vec![hello("conn1", 0), posted("p4", 1), Step::Hang],
    ])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| posted_ids(m).len() >= 2).await;
    assert_eq!(posted_ids(&seen), ["p1", "p4"]);
    assert_eq!(resyncs(&seen).len(), 1);
}

#[tokio::test]
async fn persistent_gap_is_accepted_with_a_resync() {
    let (_mock, client) = start(vec![
        vec![
            hello("conn0", 0),
            posted("p1", 1),
            posted("p3", 3),
            Step::Hang,
        ],
        vec![posted("p5", 5), Step::Hang],
    ])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: WsOptions {
                max_gap_reconnects: 1,
                ..options()
            },
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| posted_ids(m).len() >= 2).await;
    assert_eq!(posted_ids(&seen), ["p1", "p5"]);
    assert_eq!(
        resyncs(&seen),
        [ResyncReason::SequenceGap {
            expected: 2,
            received: 5
        }]
    );
}

#[tokio::test]
async fn malformed_frames_are_skipped_without_breaking_the_connection() {
    let bad_post =
        json!({"event": "posted", "seq": 1, "data": {"post": "{broken"}, "broadcast": null});
    let (mock, client) = start(vec![vec![
        hello("conn0", 0),
        Step::SendRaw("this is not json"),
        Step::Send(bad_post),
        Step::Send(json!({"event": "typing", "seq": 2, "data": {"parent_id": ""}, "broadcast": {"channel_id": "c1"}})),
        posted("p3", 3),
        Step::Hang,
    ]])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| !posted_ids(m).is_empty()).await;
    assert_eq!(posted_ids(&seen), ["p3"]);
    assert!(seen
        .iter()
        .any(|m| matches!(m, WsMessage::Event(Event::Other { event, .. }) if event == "typing")));
    assert!(resyncs(&seen).is_empty());
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, WsMessage::Disconnected { .. })),
        "{seen:#?}"
    );
    assert_eq!(mock.connections.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn silent_connection_is_declared_dead_and_resumed() {
    let (mock, client) = start(vec![
        vec![hello("conn0", 0), posted("p1", 1), Step::Silent],
        vec![Step::Hang],
    ])
    .await;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: WsOptions {
                ping_interval: Duration::from_millis(100),
                ..options()
            },
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| {
        m.contains(&WsMessage::Connected {
            connection_id: "conn0".into(),
            resumed: true,
        })
    })
    .await;
    let reason = seen
        .iter()
        .find_map(|m| match m {
            WsMessage::Disconnected { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(reason.contains("ping"), "{reason}");
    assert_eq!(
        mock.connections.lock().unwrap()[1].0,
        "connection_id=conn0&sequence_number=2"
    );
}

#[tokio::test]
async fn starts_from_a_persisted_resume_point_and_stops_on_shutdown() {
    let (mock, client) = start(vec![vec![Step::Hang]]).await;
    let (stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            resume_from: Some(ResumePoint {
                connection_id: "saved1".into(),
                next_seq: 7,
            }),
            on_resume_point: None,
            checkpoints: false,
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| !m.is_empty()).await;
    assert_eq!(
        seen[0],
        WsMessage::Connected {
            connection_id: "saved1".into(),
            resumed: true
        }
    );
    assert_eq!(
        mock.connections.lock().unwrap()[0].0,
        "connection_id=saved1&sequence_number=7"
    );
    assert_eq!(*handle.state.borrow(), ConnectionState::Connected);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), &mut handle.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*handle.state.borrow(), ConnectionState::Disconnected);
    assert!(
        handle.messages.recv().await.is_none(),
        "channel closes after shutdown"
    );
}

#[tokio::test]
async fn unreachable_server_is_retried_until_it_comes_up() {
    // Reserve a port, start nothing on it yet.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    let client = Client::new(&format!("http://{addr}"), "tok", ClientOptions::default()).unwrap();
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(*handle.state.borrow(), ConnectionState::Disconnected);

    let mock = WsMock::default();
    mock.scripts
        .lock()
        .unwrap()
        .push_back(vec![hello("conn0", 0), Step::Hang]);
    let app = Router::new()
        .route("/api/v4/websocket", get(upgrade))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let seen = read_until(&mut handle.messages, |m| !m.is_empty()).await;
    assert_eq!(
        seen[0],
        WsMessage::Connected {
            connection_id: "conn0".into(),
            resumed: false
        }
    );
}

#[tokio::test]
async fn rate_limited_upgrade_waits_retry_after() {
    let (mock, client) = start(vec![vec![hello("conn0", 0), Step::Hang]]).await;
    *mock.refusals.lock().unwrap() = 1;
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    let seen = read_until(&mut handle.messages, |m| !m.is_empty()).await;
    assert!(matches!(
        &seen[0],
        WsMessage::Connected { resumed: false, .. }
    ));
    let attempts = mock.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1].duration_since(attempts[0]) >= Duration::from_millis(950));
}

/// Counts WebSocket events by type.
#[derive(Default)]
struct EventCounter(Mutex<Vec<String>>);

impl sharebot::mattermost::ApiObserver for EventCounter {
    fn api_call(&self, _: &str, _: &str, _: Option<u16>, _: Duration) {}
    fn ws_event(&self, event: &str) {
        self.0.lock().unwrap().push(event.to_owned());
    }
}

#[tokio::test]
async fn observer_counts_each_delivered_event_once() {
    let (_mock, plain) = start(vec![vec![
        hello("conn0", 0),
        posted("p1", 1),
        posted("p1", 1),
        Step::Hang,
    ]])
    .await;
    let counter = Arc::new(EventCounter::default());
    let client = Client::new(
        plain.base_url().as_str(),
        "tok",
        ClientOptions {
            observer: Some(counter.clone()),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let (_stop, shutdown) = watch::channel(false);
    let mut handle = client.websocket(
        WsConfig {
            options: options(),
            ..Default::default()
        },
        shutdown,
    );
    read_until(&mut handle.messages, |m| posted_ids(m).len() == 1).await;
    assert_quiet(&mut handle.messages).await;
    assert_eq!(*counter.0.lock().unwrap(), ["hello", "posted"]);
}
