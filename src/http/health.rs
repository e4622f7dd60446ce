//! `GET /healthz` (the process is up) and `GET /readyz` (database reachable and, on the
//! leader, Mattermost connected; with the replica's role), for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// How the bot's link to Mattermost stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MattermostLink {
    /// No connection has been attempted (or this build cannot connect yet).
    NotStarted,
    Connected,
    Disconnected,
    /// Connected, but a place the bot works in is gone (the server was rebuilt or restored):
    /// which, and what to do.
    PlacesGone(String),
}

impl MattermostLink {
    fn as_str(&self) -> &str {
        match self {
            MattermostLink::NotStarted => "not connected",
            MattermostLink::Connected => "connected",
            MattermostLink::Disconnected => "disconnected",
            MattermostLink::PlacesGone(why) => why,
        }
    }
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database answers and, on the leader, the WebSocket to Mattermost is up
/// with its places in order. A follower serves callbacks with the database alone, so it is
/// ready without a socket of its own.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await,
        Ok(Ok(()))
    );
    let leading = *state.leading.borrow();
    let link = state.mattermost.borrow().clone();
    let ready = database && (!leading || link == MattermostLink::Connected);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mattermost = if leading {
        link.as_str()
    } else {
        "the leader listens"
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "role": if leading { "leader" } else { "follower" },
            "replica": &*state.replica,
            "checks": {
                "database": if database { "ok" } else { "unreachable" },
                "mattermost": mattermost,
            }
        })),
    )
}
