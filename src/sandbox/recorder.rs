//! Records every JSON answer the sandbox gives (method, route template, status, body) so the
//! conformance tests can check them against the official OpenAPI spec.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;

/// Bodies larger than this are passed through but not recorded.
const MAX_RECORDED_BODY: usize = 16 * 1024 * 1024;

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

    /// Adds an exchange (the middleware does this; tests may too).
    pub fn push(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(exchange);
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

/// Whether a content type is JSON (`application/json`, `…+json`, with parameters).
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Axum middleware recording each answer into the recorder.
pub async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    if !json {
        recorder.push(Exchange {
            method,
            route,
            status,
            body: None,
        });
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_RECORDED_BODY).await {
        Ok(bytes) => {
            let parsed = serde_json::from_slice(&bytes).ok();
            recorder.push(Exchange {
                method,
                route,
                status,
                body: parsed,
            });
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => {
            // Too large or broken: the body is gone; answer what the server would on failure.
            recorder.push(Exchange {
                method,
                route,
                status,
                body: None,
            });
            let mut failed = Response::from_parts(parts, Body::empty());
            *failed.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use axum::Router;
    use tower::ServiceExt;

    fn app(recorder: &Recorder) -> Router {
        Router::new()
            .route(
                "/api/v4/users/{user_id}",
                get(|| async { axum::Json(serde_json::json!({"id": "u1", "create_at": 1})) }),
            )
            .route("/plain", post(|| async { "hello" }))
            .layer(axum::middleware::from_fn_with_state(
                recorder.clone(),
                record,
            ))
    }

    #[tokio::test]
    async fn records_route_template_status_and_json_body_and_passes_the_body_on() {
        let recorder = Recorder::default();
        let response = app(&recorder)
            .oneshot(
                Request::get("/api/v4/users/abc")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&bytes[..], br#"{"create_at":1,"id":"u1"}"#);
        let recorded = recorder.exchanges();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].method, "GET");
        assert_eq!(recorded[0].route, "/api/v4/users/{user_id}");
        assert_eq!(recorded[0].status, 200);
        assert_eq!(
            recorded[0].body,
            Some(serde_json::json!({"id": "u1", "create_at": 1}))
        );
    }

    #[tokio::test]
    async fn non_json_and_unmatched_answers_are_recorded_without_body() {
        let recorder = Recorder::default();
        let response = app(&recorder)
            .oneshot(Request::post("/plain").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"hello");
        let response = app(&recorder)
            .oneshot(Request::get("/nowhere/x").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let recorded = recorder.exchanges();
        assert_eq!(recorded.len(), 2);
        assert_eq!(
            (recorded[0].route.as_str(), recorded[0].body.is_none()),
            ("/plain", true)
        );
        assert_eq!(
            (recorded[1].route.as_str(), recorded[1].status),
            ("/nowhere/x", 404)
        );
        recorder.clear();
        assert!(recorder.exchanges().is_empty());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
    }
}
