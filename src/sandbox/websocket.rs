//! The sandbox's WebSocket endpoint (`/api/v4/websocket`): authentication, `hello`, per-connection
//! `seq`, resumable connections with a bounded replay buffer, and event fan-out.
//!
//! PLACEHOLDER: the interface below is fixed; the bodies are being written.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

/// Resolves a bearer token (session or bot access token) to the id of its user, if valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

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

/// Registry of live and resumable WebSocket connections; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    _check: TokenCheck,
}

impl Hub {
    /// A hub that authenticates connections with `check` and reports `server_version` in `hello`.
    pub fn new(server_version: impl Into<String>, check: TokenCheck) -> Hub {
        let _ = server_version.into();
        Hub { _check: check }
    }

    /// Sends `event` to every connection (live, or disconnected but resumable) of each user in
    /// `users`. `data` builds the event's `data` per recipient user id (e.g. `mentions` only for
    /// the mentioned user).
    pub fn publish(
        &self,
        event: &str,
        users: &[String],
        broadcast: &Broadcast,
        data: &dyn Fn(&str) -> Value,
    ) {
        let _ = (event, users, broadcast, data);
    }

    /// Closes every open WebSocket at once (fault injection); the connections stay resumable.
    pub fn drop_all(&self) {}

    /// Forgets every resumable connection, as after a server restart or a long outage.
    pub fn forget_sessions(&self) {}

    /// The router serving `GET /api/v4/websocket`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
    }
}
