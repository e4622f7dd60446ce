//! The sandbox's core, below both the REST API and federation: the shared instance state, the
//! WebSocket events, and the post and reaction rules both apply (neither imports the other).

pub(crate) mod events;
pub(crate) mod posts;
pub(crate) mod reactions;
pub(crate) mod shared;
pub(crate) mod team_joins;

/// `{"status": "OK"}`, the server's `ReturnStatusOK`.
pub(crate) fn status_ok() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "OK"}))
}
