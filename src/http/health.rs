//! `GET /healthz` (the process is up) and `GET /readyz` (database reachable and Mattermost
//! connected), for load balancers and orchestrators.

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

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await,
        Ok(Ok(()))
    );
    let link = state.mattermost.borrow().clone();
    let ready = database && link == MattermostLink::Connected;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "checks": {
                "database": if database { "ok" } else { "unreachable" },
                "mattermost": link.as_str(),
            }
        })),
    )
}
