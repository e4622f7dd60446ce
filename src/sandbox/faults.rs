//! Fault injection and Mattermost-style rate limiting for the sandbox, switched by flags or by the
//! admin-only routes under `/__sandbox/`.
//!
//! PLACEHOLDER: the interface below is fixed; the bodies are being written.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::websocket::Hub;

/// Tells whether a bearer token belongs to a system admin (guards `/__sandbox/` routes).
pub type AdminCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Mattermost `RateLimitSettings` equivalent (GCRA: `per_sec` with `max_burst`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateLimit {
    pub per_sec: u32,
    pub max_burst: u32,
    /// Key the limiter by token instead of by remote address.
    pub vary_by_user: bool,
}

/// The switchable fault settings; all off by default.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultSettings {
    /// Added latency for every API answer, in milliseconds.
    pub latency_ms: u64,
    /// Share (0.0 to 1.0) of API requests answered with a 5xx.
    pub error_rate: f64,
    /// Rate limiting, off when `None`.
    pub rate_limit: Option<RateLimit>,
}

/// Shared, runtime-switchable faults; cheap to clone.
#[derive(Clone, Default)]
pub struct Faults {}

impl Faults {
    pub fn new(settings: FaultSettings) -> Faults {
        let _ = settings;
        Faults {}
    }
}

/// Axum middleware applying latency, injected errors and rate limiting to API routes.
pub async fn middleware(State(_faults): State<Faults>, request: Request, next: Next) -> Response {
    next.run(request).await
}

/// The admin-only routes under `/__sandbox/` (fault settings, dropping every WebSocket).
pub fn admin_router(faults: Faults, hub: Hub, is_admin: AdminCheck) -> axum::Router {
    let _ = (faults, hub, is_admin);
    axum::Router::new()
}
