//! The sandbox WebSocket hub against a real client: auth, hello, ping, fan-out, resume.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sharebot::sandbox::websocket::{Broadcast, Hub, TokenCheck};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ALICE: &str = "aliceaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "bobbbbbbbbbbbbbbbbbbbbbbbb";
const CAROL: &str = "carolccccccccccccccccccccc";

fn hub() -> Hub {
    let check: TokenCheck = Arc::new(|token: &str| match token {
        "alice-token" => Some(ALICE.to_owned()),
        "bob-token" => Some(BOB.to_owned()),
        "carol-token" => Some(CAROL.to_owned()),
        _ => None,
    });
    Hub::new("10.11.0.0.abc.false", check)
}

async fn serve(hub: &Hub) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = hub.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn connect(addr: SocketAddr, token: Option<&str>, query: &str) -> Ws {
    let mut request = format!("ws://{addr}/api/v4/websocket{query}")
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

/// The next JSON text frame; panics after 5 s or when the socket ends.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("socket ended")
            .expect("socket error");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Waits until the server has ended the socket (close frame, reset or end of stream).
async fn expect_closed(ws: &mut Ws) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("socket not closed within 5 s")
        {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Text(text))) => panic!("unexpected frame {text}"),
            Some(Ok(_)) => {}
        }
    }
}

/// Nothing arrives within a short while.
async fn expect_silence(ws: &mut Ws) {
    if let Ok(Some(Ok(Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(150), ws.next()).await
    {
        panic!("unexpected frame {text}");
    }
}

async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

fn publish(hub: &Hub, event: &str, users: &[&str], n: i64) {
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    let broadcast = Broadcast {
        channel_id: "chan".into(),
        ..Broadcast::default()
    };
    hub.publish(
        event,
        &users,
        &broadcast,
        &|user| json!({"for": user, "n": n}),
    );
}

async fn hello(ws: &mut Ws) -> String {
    let hello = next_json(ws).await;
    assert_eq!(hello["event"], "hello", "{hello}");
    assert_eq!(hello["seq"], 0);
    hello["data"]["connection_id"].as_str().unwrap().to_owned()
}

/// Waits until the hub has noticed the drop of every socket.
async fn wait_no_live(hub: &Hub) {
    for _ in 0..200 {
        if hub.live_connections() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("sockets still live");
}

#[tokio::test]
async fn header_auth_gets_a_hello_shaped_like_the_server() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["event"], "hello");
    assert_eq!(hello["seq"], 0);
    let id = hello["data"]["connection_id"].as_str().unwrap();
    assert_eq!(id.len(), 26);
    assert_eq!(hello["data"]["server_version"], "10.11.0.0.abc.false");
    assert!(hello["data"]["server_hostname"].is_string());
    assert_eq!(
        hello["broadcast"],
        json!({"omit_users": null, "user_id": ALICE, "channel_id": "", "team_id": "",
               "connection_id": "", "omit_connection_id": ""})
    );
}

#[tokio::test]
async fn challenge_auth_gets_hello_then_ok() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, None, "").await;
    expect_silence(&mut ws).await;
    send(
        &mut ws,
        json!({"seq": 1, "action": "authentication_challenge", "data": {"token": "bob-token"}}),
    )
    .await;
    hello(&mut ws).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"status": "OK", "seq_reply": 1})
    );
    publish(&hub, "posted", &[BOB], 1);
    let event = next_json(&mut ws).await;
    assert_eq!(event["seq"], 1);
    assert_eq!(event["data"]["for"], BOB);
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let hub = hub();
    let addr = serve(&hub).await;
    // A bad header token upgrades but stays unauthenticated, as on the real server.
    let mut ws = connect(addr, Some("nope"), "").await;
    send(&mut ws, json!({"seq": 1, "action": "ping"})).await;
    let answer = next_json(&mut ws).await;
    assert_eq!(answer["status"], "FAIL");
    assert_eq!(answer["seq_reply"], 1);
    assert_eq!(
        answer["error"]["id"],
        "api.web_socket_router.not_authenticated.app_error"
    );
    assert_eq!(answer["error"]["status_code"], 401);
    // A challenge with a bad token closes the socket.
    send(
        &mut ws,
        json!({"seq": 2, "action": "authentication_challenge", "data": {"token": "nope"}}),
    )
    .await;
    expect_closed(&mut ws).await;
    assert_eq!(hub.live_connections(), 0);
}

#[tokio::test]
async fn ping_pong_and_unknown_actions() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    hello(&mut ws).await;
    send(&mut ws, json!({"seq": 1, "action": "ping"})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["status"], "OK");
    assert_eq!(pong["seq_reply"], 1);
    assert_eq!(pong["data"]["text"], "pong");
    assert_eq!(pong["data"]["version"], "10.11.0");
    assert!(pong["data"]["server_time"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(pong["data"]["node_id"], "");
    assert!(pong.get("seq").is_none(), "answers carry no seq");

    send(
        &mut ws,
        json!({"seq": 2, "action": "user_typing", "data": {"channel_id": "bad"}}),
    )
    .await;
    let answer = next_json(&mut ws).await;
    assert_eq!(answer["status"], "FAIL");
    assert_eq!(
        answer["error"]["id"],
        "api.websocket_handler.invalid_param.app_error"
    );
    send(
        &mut ws,
        json!({"seq": 3, "action": "user_typing", "data": {"channel_id": ALICE}}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"status": "OK", "seq_reply": 3})
    );

    send(
        &mut ws,
        json!({"seq": 5, "action": "get_statuses_by_ids", "data": {"user_ids": [ALICE, BOB]}}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"status": "OK", "seq_reply": 5, "data": {ALICE: "online", BOB: "offline"}})
    );
    send(
        &mut ws,
        json!({"seq": 6, "action": "get_statuses_by_ids", "data": {"user_ids": []}}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await["error"]["id"],
        "api.websocket_handler.invalid_param.app_error"
    );

    send(&mut ws, json!({"seq": 4, "action": "no_such_thing"})).await;
    let answer = next_json(&mut ws).await;
    assert_eq!(answer["status"], "FAIL");
    assert_eq!(answer["seq_reply"], 4);
    assert_eq!(
        answer["error"]["id"],
        "api.web_socket_router.bad_action.app_error"
    );
    assert_eq!(answer["error"]["status_code"], 500);

    // Answers do not consume event seqs.
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut ws).await["seq"], 1);
}

#[tokio::test]
async fn publish_reaches_only_the_given_users_with_per_connection_seq() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut alice1 = connect(addr, Some("alice-token"), "").await;
    hello(&mut alice1).await;
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut alice1).await["seq"], 1);
    let mut alice2 = connect(addr, Some("alice-token"), "").await;
    hello(&mut alice2).await;
    let mut bob = connect(addr, Some("bob-token"), "").await;
    hello(&mut bob).await;
    let mut carol = connect(addr, Some("carol-token"), "").await;
    hello(&mut carol).await;

    publish(&hub, "posted", &[ALICE, BOB], 2);
    let a1 = next_json(&mut alice1).await;
    assert_eq!(
        (a1["seq"].clone(), a1["data"].clone()),
        (json!(2), json!({"for": ALICE, "n": 2}))
    );
    assert_eq!(a1["event"], "posted");
    assert_eq!(a1["broadcast"]["channel_id"], "chan");
    let a2 = next_json(&mut alice2).await;
    assert_eq!(
        (a2["seq"].clone(), a2["data"]["for"].clone()),
        (json!(1), json!(ALICE))
    );
    let b = next_json(&mut bob).await;
    assert_eq!(
        (b["seq"].clone(), b["data"]["for"].clone()),
        (json!(1), json!(BOB))
    );
    expect_silence(&mut carol).await;

    // broadcast.user_id and omit_users filter like the real hub.
    let users = vec![ALICE.to_owned(), BOB.to_owned(), CAROL.to_owned()];
    let omit = Broadcast {
        omit_users: Some([(BOB.to_owned(), true)].into()),
        ..Broadcast::default()
    };
    hub.publish("typing", &users, &omit, &|_| json!({}));
    assert_eq!(next_json(&mut carol).await["seq"], 1);
    assert_eq!(next_json(&mut alice2).await["seq"], 2);
    expect_silence(&mut bob).await;
    let only_bob = Broadcast {
        user_id: BOB.to_owned(),
        ..Broadcast::default()
    };
    hub.publish("direct_added", &users, &only_bob, &|_| json!({}));
    assert_eq!(next_json(&mut bob).await["seq"], 2);
    expect_silence(&mut carol).await;
}

#[tokio::test]
async fn unknown_query_parameters_are_tolerated() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        "?connection_id=&sequence_number=0&posted_ack=true&disconnect_err_code=4001&x=y",
    )
    .await;
    hello(&mut ws).await;
}

#[tokio::test]
async fn resume_after_drop_replays_exactly_the_missed_events_without_hello() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut ws).await["seq"], 1);
    publish(&hub, "posted", &[ALICE], 2);
    assert_eq!(next_json(&mut ws).await["seq"], 2);

    hub.drop_all();
    expect_closed(&mut ws).await;
    wait_no_live(&hub).await;
    publish(&hub, "posted", &[ALICE], 3);
    publish(&hub, "posted", &[ALICE], 4);

    // The client saw seq 2 but asks from 2 (e.g. it was not sure): replay from exactly there.
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=2&posted_ack=true"),
    )
    .await;
    for (seq, n) in [(2, 2), (3, 3), (4, 4)] {
        let event = next_json(&mut ws).await;
        assert_eq!(event["event"], "posted", "no hello on resume: {event}");
        assert_eq!(
            (event["seq"].clone(), event["data"]["n"].clone()),
            (json!(seq), json!(n))
        );
    }
    publish(&hub, "posted", &[ALICE], 5);
    assert_eq!(next_json(&mut ws).await["seq"], 5);

    // A lossless resume at the next seq continues live, still without hello.
    hub.drop_all();
    expect_closed(&mut ws).await;
    wait_no_live(&hub).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=6"),
    )
    .await;
    expect_silence(&mut ws).await;
    publish(&hub, "posted", &[ALICE], 6);
    assert_eq!(next_json(&mut ws).await["seq"], 6);
}

#[tokio::test]
async fn resume_beyond_the_dead_queue_gets_a_new_connection_and_hello() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    // 130 events are sent while the client reads nothing; only the last 128 stay buffered.
    for n in 1..=130 {
        publish(&hub, "posted", &[ALICE], n);
    }
    hub.drop_all();
    wait_no_live(&hub).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=1"),
    )
    .await;
    let new_id = hello(&mut ws).await;
    assert_ne!(new_id, id);
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut ws).await["seq"], 1);

    // The oldest event still buffered can be asked for.
    for n in 2..=131 {
        publish(&hub, "posted", &[ALICE], n);
    }
    hub.drop_all();
    wait_no_live(&hub).await;
    // Sent: seq 0..=131; buffered: 4..=131.
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={new_id}&sequence_number=4"),
    )
    .await;
    let first = next_json(&mut ws).await;
    assert_eq!(
        (first["event"].clone(), first["seq"].clone()),
        (json!("posted"), json!(4))
    );

    // A sequence number the connection never reached is a loss as well.
    hub.drop_all();
    drop(ws);
    wait_no_live(&hub).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={new_id}&sequence_number=999"),
    )
    .await;
    assert_ne!(hello(&mut ws).await, new_id);
}

#[tokio::test]
async fn events_wait_for_a_disconnected_connection_up_to_the_send_queue() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    hub.drop_all();
    expect_closed(&mut ws).await;
    wait_no_live(&hub).await;
    // More than the dead queue, less than the send queue: all delivered, numbered in order.
    for n in 1..=200 {
        publish(&hub, "posted", &[ALICE], n);
    }
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=1"),
    )
    .await;
    for n in 1..=200 {
        let event = next_json(&mut ws).await;
        assert_eq!(
            (event["seq"].clone(), event["data"]["n"].clone()),
            (json!(n), json!(n))
        );
    }

    // A 257th waiting event removes the connection: the next reconnect starts afresh.
    hub.drop_all();
    expect_closed(&mut ws).await;
    wait_no_live(&hub).await;
    for n in 0..257 {
        publish(&hub, "posted", &[ALICE], n);
    }
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=201"),
    )
    .await;
    assert_ne!(hello(&mut ws).await, id);
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut ws).await["seq"], 1);
}

#[tokio::test]
async fn a_drop_after_an_idle_spell_longer_than_the_window_is_not_resumable() {
    let hub = hub();
    // The server's five minutes, shortened: a sweep every 200 ms takes connections without a
    // socket whose last activity is more than 200 ms old.
    hub.set_reaper_interval(Duration::from_millis(200));
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    // Events and pings are not activity: the connection is idle since its socket attached.
    publish(&hub, "posted", &[ALICE], 1);
    assert_eq!(next_json(&mut ws).await["seq"], 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&mut ws, json!({"seq": 1, "action": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["seq_reply"], 1);

    hub.drop_all();
    expect_closed(&mut ws).await;
    // The next sweep removes it, however recent the drop.
    for _ in 0..200 {
        if hub.connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.connections(), 0, "the idle connection was swept");
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=2"),
    )
    .await;
    assert_ne!(
        hello(&mut ws).await,
        id,
        "a new connection: events were lost"
    );
}

#[tokio::test]
async fn forgotten_or_foreign_connections_are_not_resumed() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    hub.forget_sessions();
    expect_closed(&mut ws).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number=1"),
    )
    .await;
    let id2 = hello(&mut ws).await;
    assert_ne!(id2, id);

    // Another user cannot take over alice's connection.
    hub.drop_all();
    expect_closed(&mut ws).await;
    wait_no_live(&hub).await;
    let mut bob = connect(
        addr,
        Some("bob-token"),
        &format!("?connection_id={id2}&sequence_number=1"),
    )
    .await;
    assert_ne!(hello(&mut bob).await, id2);
    // ...and alice still can.
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id2}&sequence_number=1"),
    )
    .await;
    expect_silence(&mut ws).await;
}

#[tokio::test]
async fn user_typing_goes_through_the_typing_handler() {
    let hub = hub();
    let publisher = hub.clone();
    hub.on_typing(Arc::new(move |user: &str, channel: &str, parent: &str| {
        if channel != CAROL {
            return false;
        }
        let broadcast = Broadcast {
            channel_id: channel.to_owned(),
            omit_users: Some([(user.to_owned(), true)].into()),
            ..Broadcast::default()
        };
        let users = vec![ALICE.to_owned(), BOB.to_owned()];
        let (user, parent) = (user.to_owned(), parent.to_owned());
        publisher.publish(
            "typing",
            &users,
            &broadcast,
            &|_| json!({"parent_id": parent, "user_id": user}),
        );
        true
    }));
    let addr = serve(&hub).await;
    let mut alice = connect(addr, Some("alice-token"), "").await;
    hello(&mut alice).await;
    let mut bob = connect(addr, Some("bob-token"), "").await;
    hello(&mut bob).await;
    send(
        &mut alice,
        json!({"seq": 1, "action": "user_typing", "data": {"channel_id": CAROL}}),
    )
    .await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"status": "OK", "seq_reply": 1})
    );
    let typing = next_json(&mut bob).await;
    assert_eq!(typing["event"], "typing");
    assert_eq!(typing["data"], json!({"parent_id": "", "user_id": ALICE}));
    assert_eq!(typing["broadcast"]["channel_id"], CAROL);
    expect_silence(&mut alice).await;
    // No permission: the server's invalid channel_id answer.
    send(
        &mut alice,
        json!({"seq": 2, "action": "user_typing", "data": {"channel_id": BOB}}),
    )
    .await;
    let answer = next_json(&mut alice).await;
    assert_eq!(
        answer["error"]["id"],
        "api.websocket_handler.invalid_param.app_error"
    );
}

#[tokio::test]
async fn oversized_request_frames_close_the_socket() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    hello(&mut ws).await;
    let text = "x".repeat(9 * 1024);
    send(
        &mut ws,
        json!({"seq": 1, "action": "ping", "data": {"pad": text}}),
    )
    .await;
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn a_malformed_resume_request_is_closed() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(
        addr,
        Some("alice-token"),
        "?connection_id=notanid&sequence_number=1",
    )
    .await;
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn plain_http_on_the_websocket_route_is_an_app_error() {
    let hub = hub();
    let addr = serve(&hub).await;
    let response = reqwest::get(format!("http://{addr}/api/v4/websocket"))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], "api.web_socket.connect.upgrade.app_error");
}

#[tokio::test]
async fn a_consumer_that_cannot_keep_up_is_closed_and_removed_without_blocking_publishers() {
    let hub = hub();
    let addr = serve(&hub).await;
    let mut ws = connect(addr, Some("alice-token"), "").await;
    let id = hello(&mut ws).await;
    // The client reads nothing while 600 large events are published.
    let big = "x".repeat(64 * 1024);
    let users = vec![ALICE.to_owned()];
    let started = std::time::Instant::now();
    for _ in 0..600 {
        hub.publish(
            "posted",
            &users,
            &Broadcast::default(),
            &|_| json!({"post": big}),
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "publishing blocked"
    );
    wait_no_live(&hub).await;
    // What was queued still arrives, then a close frame (writePump on a closed queue).
    let mut received = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Close(_))) => break,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    assert!(received > 0 && received < 600, "{received}");
    // The connection was removed: resuming it starts afresh.
    let mut ws = connect(
        addr,
        Some("alice-token"),
        &format!("?connection_id={id}&sequence_number={}", received + 1),
    )
    .await;
    assert_ne!(hello(&mut ws).await, id);
}
