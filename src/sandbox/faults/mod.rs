//! Fault injection and Mattermost-style rate limiting for the sandbox, switched by flags or by the
//! admin-only routes under `/__sandbox/`.
//!
//! Rate limiting follows `server/channels/app/ratelimit.go`: a GCRA limiter (the `throttled`
//! library's) with `PerSec` and `MaxBurst`, keyed by remote address or, with `VaryByUser`, by
//! token; every limited route answers `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset`, and over the limit `429` with the plain-text body `limit exceeded` and
//! `Retry-After`. The server wraps its whole HTTP handler in the limiter (`app/server.go`), so
//! the WebSocket upgrade is limited too ([`rate_limit_only`] guards the hub's route).
//!
//! The limiter follows the server configuration's `RateLimitSettings` (`Enable`, `PerSec` 10,
//! `MaxBurst` 100, `VaryByUser`), as a restarted server would (the real one reads them at start);
//! a `rate_limit` set through the faults API takes precedence, for tests that want another.

mod gcra;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::json;

use self::gcra::{Decision, Gcra};
use super::auth::request_token;
use super::model::config::RateLimitSettings;
use super::websocket::Hub;
use crate::ids::new_id;

/// Tells whether a bearer token belongs to a system admin (guards `/__sandbox/` routes).
pub type AdminCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Mattermost `RateLimitSettings` equivalent (GCRA: `per_sec` with `max_burst`); the default
/// and absent fields are the server's (10 a second, a burst of 100, by remote address).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RateLimit {
    pub per_sec: u32,
    pub max_burst: u32,
    /// Key the limiter by token instead of by remote address.
    pub vary_by_user: bool,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::from_settings(&RateLimitSettings {
            enable: true,
            ..RateLimitSettings::default()
        })
        .unwrap_or(RateLimit {
            per_sec: 10,
            max_burst: 100,
            vary_by_user: false,
        })
    }
}

impl RateLimit {
    /// The limiter the server runs with these settings; `None` when they do not enable one.
    pub fn from_settings(settings: &RateLimitSettings) -> Option<RateLimit> {
        settings.enable.then(|| RateLimit {
            per_sec: settings.per_sec.max(1),
            max_burst: settings.max_burst,
            vary_by_user: settings.vary_by_user,
        })
    }
}

/// Reads the server configuration's rate limit (`None`: not enabled).
pub type ConfigLimit = Arc<dyn Fn() -> Option<RateLimit> + Send + Sync>;

/// The switchable fault settings; all off by default (and absent fields mean off).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FaultSettings {
    /// Added latency for every API answer, in milliseconds.
    pub latency_ms: u64,
    /// Share (0.0 to 1.0) of API requests answered with a 5xx.
    pub error_rate: f64,
    /// Rate limiting, off when `None`.
    pub rate_limit: Option<RateLimit>,
}

impl FaultSettings {
    /// Why these settings cannot be applied, if they cannot.
    pub fn invalid(&self) -> Option<&'static str> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Some("error_rate");
        }
        match &self.rate_limit {
            Some(limit) if limit.per_sec == 0 => Some("rate_limit.per_sec"),
            _ => None,
        }
    }
}

/// Shared, runtime-switchable faults; cheap to clone.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<FaultsInner>,
}

#[derive(Default)]
struct FaultsInner {
    settings: RwLock<FaultSettings>,
    /// The limiter in force and what it was built from (rebuilt when that changes).
    limiter: Mutex<Option<(RateLimit, Gcra)>>,
    /// Where the configured limit comes from when the faults set none.
    config: RwLock<Option<ConfigLimit>>,
    /// 429 answers given so far.
    refused: AtomicU64,
}

impl Faults {
    pub fn new(settings: FaultSettings) -> Faults {
        let faults = Faults::default();
        faults.set(settings);
        faults
    }

    /// The current settings.
    pub fn settings(&self) -> FaultSettings {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the settings; rate-limit state starts afresh.
    pub fn set(&self, settings: FaultSettings) {
        *self
            .inner
            .limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
    }

    /// Makes the limiter follow the server configuration whenever the faults set no
    /// `rate_limit`.
    pub fn follow_config(&self, config: ConfigLimit) {
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(config);
    }

    /// How many answers were `429` so far (every limited route, the WebSocket upgrade too).
    pub fn rate_limited_answers(&self) -> u64 {
        self.inner.refused.load(Ordering::SeqCst)
    }

    /// The limit in force: the faults' own, else the configuration's.
    fn limit_in_force(&self) -> Option<RateLimit> {
        if let Some(limit) = self.settings().rate_limit {
            return Some(limit);
        }
        let config = self
            .inner
            .config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        config.and_then(|read| read())
    }

    /// Counts `request` against the limiter in force, if any.
    fn rate_limit(&self, request: &Request) -> Option<Decision> {
        let wanted = self.limit_in_force();
        let mut limiter = self
            .inner
            .limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if limiter.as_ref().map(|(limit, _)| limit) != wanted.as_ref() {
            // Other settings: a new limiter, as after the restart the server needs for them.
            *limiter = wanted.map(|limit| {
                let gcra = Gcra::new(limit.per_sec.max(1), limit.max_burst, Instant::now());
                (limit, gcra)
            });
        }
        let (limit, gcra) = limiter.as_mut()?;
        let key = limiter_key(request, limit.vary_by_user);
        let decision = gcra.check(&key, Instant::now());
        if decision.limited {
            self.inner.refused.fetch_add(1, Ordering::SeqCst);
        }
        Some(decision)
    }
}

/// The limiter key (`RateLimiter.GenerateKey`): the token when varying by user and one is
/// present, else the remote address.
fn limiter_key(request: &Request, vary_by_user: bool) -> String {
    if vary_by_user {
        if let Some(token) = request_token(request.headers()) {
            return token;
        }
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default()
}

fn seconds_ceil(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// `setRateLimitHeaders`.
fn set_rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert("X-RateLimit-Limit", HeaderValue::from(decision.limit));
    headers.insert(
        "X-RateLimit-Remaining",
        HeaderValue::from(decision.remaining),
    );
    headers.insert(
        "X-RateLimit-Reset",
        HeaderValue::from(seconds_ceil(decision.reset_after)),
    );
    if let Some(retry) = decision.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds_ceil(retry)));
    }
}

/// An AppError answer as the server's `handleContextError` writes it.
fn app_error(status: StatusCode, id: &str, message: &str) -> Response {
    let body = json!({
        "id": id,
        "message": message,
        "detailed_error": "",
        "request_id": new_id(),
        "status_code": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

/// One of the 5xx answers a real server gives under trouble.
fn injected_error() -> Response {
    if rand::thread_rng().gen_bool(0.5) {
        app_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api.context.server_busy.app_error",
            "Server is busy, non-critical services are temporarily unavailable.",
        )
    } else {
        // What any 5xx looks like with ExperimentalEnableHardenedMode.
        app_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "Internal Server Error",
        )
    }
}

/// The limiter's `429` (`http.Error`: a plain-text body).
fn limit_exceeded(decision: &Decision) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "limit exceeded\n").into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    set_rate_limit_headers(headers, decision);
    response
}

/// Axum middleware applying only the rate limit (the WebSocket upgrade's route).
pub async fn rate_limit_only(
    State(faults): State<Faults>,
    request: Request,
    next: Next,
) -> Response {
    let decision = faults.rate_limit(&request);
    if let Some(decision) = decision.as_ref().filter(|d| d.limited) {
        return limit_exceeded(decision);
    }
    let mut response = next.run(request).await;
    if let Some(decision) = &decision {
        set_rate_limit_headers(response.headers_mut(), decision);
    }
    response
}

/// Axum middleware applying latency, injected errors and rate limiting to API routes.
pub async fn middleware(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let settings = faults.settings();
    let decision = faults.rate_limit(&request);
    if let Some(decision) = decision.as_ref().filter(|d| d.limited) {
        return limit_exceeded(decision);
    }
    let api = request.uri().path().starts_with("/api/");
    if api && settings.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.latency_ms)).await;
    }
    let mut response = if api
        && settings.error_rate > 0.0
        && rand::thread_rng().gen_bool(settings.error_rate.min(1.0))
    {
        injected_error()
    } else {
        next.run(request).await
    };
    if let Some(decision) = &decision {
        set_rate_limit_headers(response.headers_mut(), decision);
    }
    response
}

#[derive(Clone)]
struct AdminState {
    faults: Faults,
    hub: Hub,
    is_admin: AdminCheck,
}

/// The admin-only routes under `/__sandbox/` (fault settings, dropping every WebSocket).
pub fn admin_router(faults: Faults, hub: Hub, is_admin: AdminCheck) -> axum::Router {
    let state = AdminState {
        faults,
        hub,
        is_admin,
    };
    axum::Router::new()
        .route("/__sandbox/faults", get(get_faults).put(put_faults))
        .route("/__sandbox/websocket/drop", post(drop_sockets))
        .route("/__sandbox/websocket/forget", post(forget_sockets))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_admin,
        ))
        .with_state(state)
}

/// 401 without a token, 403 for a non-admin, as the server answers a missing session or
/// permission.
async fn require_admin(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let Some(token) = request_token(request.headers()) else {
        return app_error(
            StatusCode::UNAUTHORIZED,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        );
    };
    if !(state.is_admin)(&token) {
        return app_error(
            StatusCode::FORBIDDEN,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        );
    }
    next.run(request).await
}

async fn get_faults(State(state): State<AdminState>) -> Response {
    axum::Json(state.faults.settings()).into_response()
}

async fn put_faults(State(state): State<AdminState>, body: Bytes) -> Response {
    let settings = match serde_json::from_slice::<FaultSettings>(&body) {
        Ok(settings) => settings,
        Err(_) => {
            return app_error(
                StatusCode::BAD_REQUEST,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing faults in request body.",
            )
        }
    };
    if let Some(field) = settings.invalid() {
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_param.app_error",
            &format!("Invalid {field} parameter."),
        );
    }
    state.faults.set(settings);
    axum::Json(state.faults.settings()).into_response()
}

async fn drop_sockets(State(state): State<AdminState>) -> Response {
    state.hub.drop_all();
    status_ok()
}

async fn forget_sockets(State(state): State<AdminState>) -> Response {
    state.hub.forget_sessions();
    status_ok()
}

/// Mattermost's `{"status":"OK"}` answer.
fn status_ok() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"status":"OK"}"#))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_seconds_up() {
        assert_eq!(seconds_ceil(Duration::ZERO), 0);
        assert_eq!(seconds_ceil(Duration::from_millis(1)), 1);
        assert_eq!(seconds_ceil(Duration::from_secs(2)), 2);
        assert_eq!(seconds_ceil(Duration::from_millis(2001)), 3);
        let mut headers = HeaderMap::new();
        set_rate_limit_headers(
            &mut headers,
            &Decision {
                limited: true,
                limit: 3,
                remaining: 0,
                reset_after: Duration::from_millis(2500),
                retry_after: Some(Duration::from_millis(400)),
            },
        );
        assert_eq!(headers["X-RateLimit-Limit"], "3");
        assert_eq!(headers["X-RateLimit-Remaining"], "0");
        assert_eq!(headers["X-RateLimit-Reset"], "3");
        assert_eq!(headers["Retry-After"], "1");
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(FaultSettings::default().invalid(), None);
        let bad_rate = FaultSettings {
            error_rate: 1.5,
            ..FaultSettings::default()
        };
        assert_eq!(bad_rate.invalid(), Some("error_rate"));
        let bad_limit = FaultSettings {
            rate_limit: Some(RateLimit {
                per_sec: 0,
                max_burst: 1,
                vary_by_user: false,
            }),
            ..FaultSettings::default()
        };
        assert_eq!(bad_limit.invalid(), Some("rate_limit.per_sec"));
    }
}
