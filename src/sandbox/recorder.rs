//! Records every JSON answer the sandbox gives (method, route template, status, body) so the
//! conformance tests can check them against the official OpenAPI spec.
//!
//! PLACEHOLDER: the interface below is fixed; the bodies are being written.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// One recorded answer.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    /// The matched route template, e.g. `/api/v4/users/{user_id}`.
    pub route: String,
    pub status: u16,
    /// The body when it was JSON.
    pub body: Option<serde_json::Value>,
}

/// Shared list of recorded exchanges; cheap to clone.
#[derive(Clone, Default)]
pub struct Recorder {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Recorder {
    /// Everything recorded so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Axum middleware recording each answer into the recorder.
pub async fn record(State(_recorder): State<Recorder>, request: Request, next: Next) -> Response {
    next.run(request).await
}
