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

/// `GET /metrics`: Prometheus text format.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
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
