//! Requests this server makes to another one: a frame POSTed to its site URL with the
//! connection id and the token the other side issued (`sendFrameToRemote`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::protocol::{Frame, Msg, HEADER_REMOTE_ID, HEADER_REMOTE_TOKEN};
use crate::ids::{new_id, now_ms};

/// `PingTimeout`: a ping not answered within this counts as failed.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// `SendTimeout` for messages and invite confirmations.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request to another server failed; the text is safe to show (no token).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("cannot reach {site_url}: {reason}")]
    Unreachable { site_url: String, reason: String },
    #[error("unexpected response: {status} - {detail}")]
    Status { status: u16, detail: String },
    #[error("invalid response from remote server: {0}")]
    Body(String),
}

/// Where and as whom a frame is sent.
pub struct Target<'a> {
    pub site_url: &'a str,
    pub remote_id: &'a str,
    /// The token the other side issued to us (its `token`, our `remote_token`).
    pub token: &'a str,
}

/// A new message for a topic (`NewRemoteClusterMsg`).
pub fn message(topic: &str, payload: Value) -> Msg {
    Msg {
        id: new_id(),
        topic: topic.to_string(),
        create_at: now_ms(),
        payload,
    }
}

/// POSTs `msg` in a frame to `path` on the target and decodes a 200 answer as `T`.
pub async fn send<T: DeserializeOwned>(
    http: &reqwest::Client,
    target: &Target<'_>,
    path: &str,
    msg: Msg,
    timeout: Duration,
) -> Result<T, OutboundError> {
    let frame = Frame {
        remote_id: target.remote_id.to_string(),
        msg,
    };
    let url = format!("{}{}", target.site_url.trim_end_matches('/'), path);
    let response = http
        .post(&url)
        .timeout(timeout)
        .header(HEADER_REMOTE_ID, target.remote_id)
        .header(HEADER_REMOTE_TOKEN, target.token)
        .json(&frame)
        .send()
        .await
        .map_err(|err| OutboundError::Unreachable {
            site_url: target.site_url.to_string(),
            reason: without_url(&err),
        })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::OK {
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        return Err(OutboundError::Status {
            status: status.as_u16(),
            detail,
        });
    }
    serde_json::from_str(&text).map_err(|err| OutboundError::Body(err.to_string()))
}

/// A transport error's reason without the URL reqwest appends (it is already in the message).
fn without_url(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection refused".into()
    } else {
        "request failed".into()
    }
}
