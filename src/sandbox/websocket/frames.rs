//! The JSON the WebSocket speaks: event envelopes (with `broadcast` and `seq`), the answers to
//! client requests, and the requests themselves (`model.WebSocketEvent`, `WebSocketResponse`,
//! `WebSocketRequest`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

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

/// An event without its `seq`: the JSON object minus its closing brace (the real server's
/// precomputed JSON), completed per connection by [`render`].
pub(super) type Body = Arc<str>;

/// The frame a connection sends: `body` completed with its `seq`.
pub(super) fn render(body: &str, seq: i64) -> Arc<str> {
    format!("{body},\"seq\":{seq}}}").into()
}

/// The `broadcast` object with every field the real server serializes.
pub(super) fn broadcast_json(broadcast: &Broadcast) -> Value {
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
pub(super) fn event_body(event: &str, data: Value, broadcast: Value) -> Body {
    let mut json = json!({"event": event, "data": data, "broadcast": broadcast}).to_string();
    json.pop();
    json.into()
}

/// A `{"status":"OK","seq_reply":n,"data":…}` answer (`model.NewWebSocketResponse`).
pub(super) fn ok_response(seq_reply: i64, data: Option<Value>) -> Arc<str> {
    let mut response = json!({"status": "OK", "seq_reply": seq_reply});
    if let Some(data) = data {
        response["data"] = data;
    }
    response.to_string().into()
}

/// A `{"status":"FAIL","seq_reply":n,"error":AppError}` answer (`model.NewWebSocketError`).
pub(super) fn error_response(seq_reply: i64, id: &str, message: &str, status: u16) -> Arc<str> {
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

/// The 400 answer to a request with a missing or malformed `name`.
pub(super) fn invalid_param(seq: i64, name: &str) -> Arc<str> {
    error_response(
        seq,
        "api.websocket_handler.invalid_param.app_error",
        &format!("Invalid {name} parameter."),
        400,
    )
}

/// A request frame from a client (`model.WebSocketRequest`).
#[derive(serde::Deserialize)]
pub(super) struct Request {
    #[serde(default)]
    pub seq: i64,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub data: Option<serde_json::Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_answers_have_the_app_error_shape() {
        let v: Value = serde_json::from_str(&error_response(3, "x.y", "m", 500)).unwrap();
        assert_eq!(v["status"], "FAIL");
        assert_eq!(v["seq_reply"], 3);
        assert_eq!(v["error"]["id"], "x.y");
        assert_eq!(v["error"]["status_code"], 500);
    }
}
