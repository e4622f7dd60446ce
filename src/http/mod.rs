//! The bot's HTTP server (axum): health, readiness, metrics, and the interactive callbacks
//! Mattermost sends to `server.public_url`.

mod callbacks;
mod health;

use std::future::Future;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use callbacks::{ephemeral, field, CallbackRefusal, Callbacks, DynCallbacks};
pub use health::MattermostLink;

use crate::metrics::Metrics;
use crate::store::Store;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The state of the bot's connection to Mattermost, for `/readyz`.
    pub mattermost: watch::Receiver<MattermostLink>,
    pub metrics: Metrics,
    /// True while this replica leads (always on SQLite); followers answer callbacks only.
    pub leading: watch::Receiver<bool>,
    /// This replica's name (`ha.name`).
    pub replica: std::sync::Arc<str>,
    /// The domain that answers clicks and dialogs (`None`: the callback routes answer 404).
    pub callbacks: Option<std::sync::Arc<dyn DynCallbacks>>,
}

/// The router with every route the bot serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics))
        .route("/mattermost/actions", post(callbacks::action))
        .route("/mattermost/dialogs", post(callbacks::dialog))
        .with_state(state)
}

/// `GET /metrics`: Prometheus text format, with the review requests counted from the store
/// at each scrape. A scraper that asks for OpenMetrics (as Prometheus does) is told it got it;
/// the text is the same, and readable by a 0.0.4 parser.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> impl axum::response::IntoResponse {
    let connections = state.store.policies().await;
    match (state.store.request_counts().await, connections) {
        (Ok(counts), Ok(connections)) => {
            let counts: Vec<(String, String, i64, i64)> = counts
                .into_iter()
                .map(|c| (c.state, c.remote_id, c.count, c.oldest))
                .collect();
            let connections: Vec<String> = connections.into_iter().map(|c| c.remote_id).collect();
            state
                .metrics
                .set_requests(&counts, &connections, crate::ids::now_ms());
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!("cannot count the review requests for /metrics: {err}");
        }
    }
    let openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    (
        [(axum::http::header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
