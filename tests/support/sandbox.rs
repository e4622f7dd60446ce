//! Helpers for tests that drive sandbox instances: AppError checks, WebSocket clients and
//! polling for what arrives asynchronously.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// A client WebSocket to a sandbox.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Checks an answer is the server's AppError with this id and status.
pub fn assert_app_error(body: &Value, status: u16, id: &str) {
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["status_code"], status, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["request_id"].is_string(), "{body}");
    assert!(body["detailed_error"].is_string(), "{body}");
}

/// Checks an answer (status and body) is the server's AppError with this status and id;
/// returns the body.
pub fn assert_error_answer(answer: (reqwest::StatusCode, Value), status: u16, id: &str) -> Value {
    let (got, body) = answer;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_app_error(&body, status, id);
    body
}

/// A WebSocket of `token` to the sandbox at `site_url`, past its `hello` (seq 0).
pub async fn socket(site_url: &str, token: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/api/v4/websocket", site_url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = next_event(&mut ws).await;
    assert_eq!(hello["event"], "hello");
    assert_eq!(hello["seq"], 0);
    ws
}

/// The next event frame (skipping action replies), within 10 s.
pub async fn next_event(ws: &mut Socket) -> Value {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v.get("event").is_some() {
                return v;
            }
        }
    }
}

/// The next event named `name`, skipping others.
pub async fn next_named(ws: &mut Socket, name: &str) -> Value {
    loop {
        let event = next_event(ws).await;
        if event["event"] == name {
            return event;
        }
    }
}

/// Polls `check` every 50 ms until it gives a value; panics after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, Duration::from_secs(10), check).await
}

/// Polls `check` every 50 ms until it gives a value; panics after `limit`.
pub async fn eventually_within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let every = Duration::from_millis(50);
    for _ in 0..limit.as_millis().div_ceil(every.as_millis()) {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(every).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls a synchronous `check` (through [`eventually`]) until it holds; panics after 10 s.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    eventually(what, || std::future::ready(check().then_some(()))).await
}
