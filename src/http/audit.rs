//! `GET /audit`: the audit search as JSON Lines for a log collector, behind the bearer token
//! of `server.audit_token` (the route exists only while it is set).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::config::Secret;

/// Why a search was not answered.
#[derive(Debug)]
pub enum AuditRefusal {
    /// The query is wrong: its one-line message.
    BadQuery(String),
    /// What it names does not exist (a connection, a user).
    NotFound(String),
    /// Mattermost or the database did not answer; in words without detail.
    Unavailable(String),
}

/// The future a search returns.
pub type AuditFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(Vec<serde_json::Value>, i64), AuditRefusal>> + Send + 'a>>;

/// What answers the search (the domain): the query string's pairs in, one JSON object per
/// entry newest first and how many the search selects in all out.
pub trait AuditSource: Send + Sync + 'static {
    fn search<'a>(&'a self, query: &'a [(String, String)]) -> AuditFuture<'a>;
}

/// The route's token and the source it serves.
#[derive(Clone)]
pub struct AuditRoute {
    pub token: Secret,
    pub source: Arc<dyn AuditSource>,
}

/// Whether `given` is `expected`, in time that does not depend on where they differ (nor on
/// their lengths: both are hashed first).
fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

/// `GET /audit?count=&connection=&action=&by=&since=&page=`.
pub(super) async fn serve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(route) = state.audit else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if !given.is_some_and(|t| same_token(t, route.token.expose())) {
        let mut refused = plain(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token (server.audit_token) is required",
        );
        if let Ok(value) = "Bearer".parse() {
            refused
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        return refused;
    }
    match route.source.search(&query).await {
        Ok((lines, total)) => {
            let mut body = String::new();
            for line in lines {
                body.push_str(&line.to_string());
                body.push('\n');
            }
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                    (
                        header::HeaderName::from_static("x-total-count"),
                        total.to_string(),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(AuditRefusal::BadQuery(why)) => plain(StatusCode::BAD_REQUEST, &why),
        Err(AuditRefusal::NotFound(why)) => plain(StatusCode::NOT_FOUND, &why),
        Err(AuditRefusal::Unavailable(why)) => plain(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(
            "a-long-audit-token-1234",
            "a-long-audit-token-1234"
        ));
        assert!(!same_token(
            "a-long-audit-token-1235",
            "a-long-audit-token-1234"
        ));
        assert!(!same_token(
            "a-long-audit-token-123",
            "a-long-audit-token-1234"
        ));
        assert!(!same_token("", "a-long-audit-token-1234"));
    }
}
