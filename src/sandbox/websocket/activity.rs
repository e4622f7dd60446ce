//! The REST calls the server counts as activity of the caller's WebSocket connections.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::super::auth::request_token;
use super::hub::Hub;

/// After a successful `POST /api/v4/posts` or channel view, refreshes the last activity of the
/// caller's connections that have a socket attached: the server's `createPost` and
/// `viewChannel` call `UpdateLastActivityAtIfNeeded`, which updates the hub
/// (`platform/session.go`, `web_hub.go` `UpdateActivity`). Other calls do not count.
pub async fn activity(State(hub): State<Hub>, request: Request, next: Next) -> Response {
    let counts = request.method() == Method::POST && counts_as_activity(request.uri().path());
    let token = counts.then(|| request_token(request.headers())).flatten();
    let response = next.run(request).await;
    if let Some(token) = token {
        if response.status().is_success() {
            hub.activity(&token);
        }
    }
    response
}

fn counts_as_activity(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/api/v4/posts"
        || (path.starts_with("/api/v4/channels/members/") && path.ends_with("/view"))
}

#[cfg(test)]
mod tests {
    use super::counts_as_activity;

    #[test]
    fn only_posting_and_viewing_count() {
        assert!(counts_as_activity("/api/v4/posts"));
        assert!(counts_as_activity("/api/v4/channels/members/me/view"));
        assert!(!counts_as_activity("/api/v4/posts/ephemeral"));
        assert!(!counts_as_activity("/api/v4/users/me"));
    }
}
