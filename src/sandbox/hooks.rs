//! One-shot test hooks: run something just before the sandbox handles the next request to a
//! route, to stage a race deterministically (someone joins a channel while a move is under way).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

type Action = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

struct Hook {
    method: String,
    route: String,
    action: Action,
}

/// The pending hooks of one sandbox; cheap to clone.
#[derive(Clone, Default)]
pub struct Hooks {
    pending: Arc<Mutex<Vec<Hook>>>,
}

impl Hooks {
    /// Runs `action` (to completion) before the next `method` request to the route template
    /// `route` (e.g. `/api/v4/channels/{channel_id}/move`) is handled; once.
    pub fn before_next<F, Fut>(&self, method: &str, route: &str, action: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let action: Action = Box::new(move || Box::pin(action()));
        self.lock().push(Hook {
            method: method.to_ascii_uppercase(),
            route: route.to_string(),
            action,
        });
    }

    /// Hooks not run yet.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn take(&self, method: &str, route: &str) -> Option<Action> {
        let mut pending = self.lock();
        let at = pending
            .iter()
            .position(|h| h.method == method && h.route == route)?;
        Some(pending.remove(at).action)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Hook>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Axum middleware running a matching hook before the handler.
pub async fn run(State(hooks): State<Hooks>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    if let Some(route) = route {
        if let Some(action) = hooks.take(request.method().as_str(), &route) {
            action().await;
        }
    }
    next.run(request).await
}
