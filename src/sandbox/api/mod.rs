//! The REST API under `/api/v4`: shared handler plumbing (caller, bodies, path ids, paging) and
//! the route table the router and `served_routes` are both built from.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{delete, get, patch, post, put};
use serde::de::DeserializeOwned;

use super::auth::bearer_token;
use super::core::shared::{Route, Shared};
use super::error::{ApiResult, AppError};
use super::model::User;
use crate::ids::is_valid_id;

mod actions;
mod channel_move;
mod channels;
mod posts;
mod reactions;
mod remote_clusters;
mod shared_channels;
mod system;
mod teams;
mod users;

/// The authenticated caller (session or access token in `Authorization: Bearer`).
pub(crate) struct Caller {
    pub user: User,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Caller, AppError> {
        let token = bearer_token(&parts.headers).ok_or_else(AppError::session_expired)?;
        let user = state
            .db()
            .user_by_token(&token)
            .cloned()
            .ok_or_else(AppError::session_expired)?;
        Ok(Caller { user })
    }
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.is_system_admin()
    }

    /// 403 unless the caller is a system admin (`manage_system`).
    pub fn require_admin(&self, permission: &str) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::permission(&self.user.id, permission))
        }
    }

    pub fn denied(&self, permission: &str) -> AppError {
        AppError::permission(&self.user.id, permission)
    }
}

/// Decodes a JSON body; a decoding failure is the server's 400 for `name`.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8], name: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|err| AppError::invalid_body_param(name, err.to_string()))
}

/// A `*_id` path parameter: outside `[A-Za-z0-9]+` the router itself answers 404; otherwise it
/// must be a valid 26-character id (400 `invalid_url_param`).
pub(crate) fn path_id(name: &str, value: &str) -> ApiResult<()> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::not_found_route());
    }
    if !is_valid_id(value) {
        return Err(AppError::invalid_url_param(name));
    }
    Ok(())
}

/// A name path parameter (`username`, `team_name`, `channel_name`): outside the router's
/// pattern (`[A-Za-z0-9_-]+`, plus `.` for usernames) the router answers 404.
pub(crate) fn path_name(value: &str, allow_dot: bool) -> ApiResult<()> {
    let ok = !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (allow_dot && b == b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(AppError::not_found_route())
    }
}

/// `page` and `per_page` query parameters, as `model.Params` reads them (default 60, max 200).
#[derive(serde::Deserialize, Default)]
pub(crate) struct Paging {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
}

impl Paging {
    /// The `(offset, limit)` pair, or 400 for an unparsable value.
    pub fn window(&self) -> ApiResult<(usize, usize)> {
        let page: usize = match &self.page {
            None => 0,
            Some(p) => p.parse().map_err(|_| AppError::invalid_url_param("page"))?,
        };
        let per_page: usize = match &self.per_page {
            None => 60,
            Some(p) => p
                .parse()
                .map_err(|_| AppError::invalid_url_param("per_page"))?,
        };
        let per_page = per_page.min(200);
        Ok((page.saturating_mul(per_page), per_page))
    }

    /// Applies the window to a list.
    pub fn apply<T>(&self, items: Vec<T>) -> ApiResult<Vec<T>> {
        let (offset, limit) = self.window()?;
        Ok(items.into_iter().skip(offset).take(limit).collect())
    }
}

/// A boolean query flag as `web/params.go` reads it: Go's `strconv.ParseBool`, anything
/// else (or nothing) being false.
pub(crate) fn flag(value: &Option<String>) -> bool {
    matches!(
        value.as_deref(),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

/// Every API route: method, template (with the spec's parameter names) and handler.
pub(crate) fn route_table() -> Vec<Route> {
    vec![
        ("POST", "/api/v4/users/login", post(users::login)),
        ("POST", "/api/v4/users/logout", post(users::logout)),
        ("GET", "/api/v4/users", get(users::list)),
        ("POST", "/api/v4/users/ids", post(users::by_ids)),
        ("POST", "/api/v4/users/usernames", post(users::by_usernames)),
        ("GET", "/api/v4/users/{user_id}", get(users::get_one)),
        (
            "GET",
            "/api/v4/users/username/{username}",
            get(users::by_username),
        ),
        (
            "PUT",
            "/api/v4/users/{user_id}/roles",
            put(users::update_roles),
        ),
        ("GET", "/api/v4/users/{user_id}/teams", get(teams::of_user)),
        (
            "GET",
            "/api/v4/users/{user_id}/teams/{team_id}/channels",
            get(channels::of_user_in_team),
        ),
        ("GET", "/api/v4/teams", get(teams::list)),
        ("POST", "/api/v4/teams", post(teams::create)),
        ("GET", "/api/v4/teams/{team_id}", get(teams::get_one)),
        ("GET", "/api/v4/teams/name/{name}", get(teams::by_name)),
        (
            "GET",
            "/api/v4/teams/{team_id}/members",
            get(teams::members),
        ),
        (
            "POST",
            "/api/v4/teams/{team_id}/members",
            post(teams::add_member),
        ),
        (
            "GET",
            "/api/v4/teams/{team_id}/members/{user_id}",
            get(teams::member),
        ),
        (
            "GET",
            "/api/v4/teams/{team_id}/channels",
            get(channels::public_of_team),
        ),
        (
            "GET",
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}",
            get(channels::by_names),
        ),
        ("POST", "/api/v4/channels", post(channels::create)),
        ("POST", "/api/v4/channels/direct", post(channels::direct)),
        (
            "GET",
            "/api/v4/channels/{channel_id}",
            get(channels::get_one),
        ),
        (
            "DELETE",
            "/api/v4/channels/{channel_id}",
            delete(channels::archive),
        ),
        (
            "GET",
            "/api/v4/channels/{channel_id}/members",
            get(channels::members),
        ),
        (
            "POST",
            "/api/v4/channels/{channel_id}/members",
            post(channels::add_member),
        ),
        (
            "GET",
            "/api/v4/channels/{channel_id}/members/{user_id}",
            get(channels::member),
        ),
        (
            "POST",
            "/api/v4/channels/{channel_id}/move",
            post(channel_move::move_channel),
        ),
        (
            "GET",
            "/api/v4/channels/{channel_id}/posts",
            get(posts::of_channel),
        ),
        ("POST", "/api/v4/posts", post(posts::create)),
        ("POST", "/api/v4/posts/ephemeral", post(posts::ephemeral)),
        ("GET", "/api/v4/posts/{post_id}", get(posts::get_one)),
        ("PUT", "/api/v4/posts/{post_id}", put(posts::update)),
        ("PUT", "/api/v4/posts/{post_id}/patch", put(posts::patch)),
        (
            "POST",
            "/api/v4/posts/{post_id}/actions/{action_id}",
            post(actions::do_action),
        ),
        (
            "POST",
            "/api/v4/actions/dialogs/open",
            post(actions::open_dialog),
        ),
        (
            "POST",
            "/api/v4/actions/dialogs/submit",
            post(actions::submit_dialog),
        ),
        ("GET", "/api/v4/remotecluster", get(remote_clusters::list)),
        (
            "POST",
            "/api/v4/remotecluster",
            post(remote_clusters::create),
        ),
        (
            "POST",
            "/api/v4/remotecluster/accept_invite",
            post(remote_clusters::accept_invite),
        ),
        (
            "GET",
            "/api/v4/remotecluster/{remote_id}",
            get(remote_clusters::get_one),
        ),
        (
            "PATCH",
            "/api/v4/remotecluster/{remote_id}",
            patch(remote_clusters::patch),
        ),
        (
            "DELETE",
            "/api/v4/remotecluster/{remote_id}",
            delete(remote_clusters::delete_one),
        ),
        (
            "POST",
            "/api/v4/remotecluster/{remote_id}/generate_invite",
            post(remote_clusters::generate_invite),
        ),
        (
            "POST",
            "/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite",
            post(shared_channels::invite),
        ),
        (
            "POST",
            "/api/v4/remotecluster/{remote_id}/channels/{channel_id}/uninvite",
            post(shared_channels::uninvite),
        ),
        (
            "GET",
            "/api/v4/remotecluster/{remote_id}/sharedchannelremotes",
            get(shared_channels::links_of_remote),
        ),
        (
            "GET",
            "/api/v4/sharedchannels/{team_id}",
            get(shared_channels::of_team),
        ),
        (
            "GET",
            "/api/v4/sharedchannels/remote_info/{remote_id}",
            get(shared_channels::remote_info),
        ),
        (
            "GET",
            "/api/v4/sharedchannels/{channel_id}/remotes",
            get(shared_channels::remotes_of_channel),
        ),
        ("POST", "/api/v4/reactions", post(reactions::create)),
        (
            "GET",
            "/api/v4/posts/{post_id}/reactions",
            get(reactions::of_post),
        ),
        (
            "DELETE",
            "/api/v4/users/{user_id}/posts/{post_id}/reactions/{emoji_name}",
            delete(reactions::remove),
        ),
        ("GET", "/api/v4/system/ping", get(system::ping)),
        ("GET", "/api/v4/config/client", get(system::client_config)),
    ]
}

/// The API router (no middleware) serving `server_to_server` too (the federation routes, which
/// take no session), with the server's 404 for unknown routes.
///
/// A known path with the wrong method is also a 404 AppError, not a 405: the real server's
/// gorilla/mux router records the method mismatch, then its catch-all `/api/v4/{anything:.*}`
/// route (`Handle404`, registered after the API) matches and clears it.
pub(crate) fn router(shared: Shared, server_to_server: Vec<Route>) -> axum::Router {
    let mut router = axum::Router::new();
    for (_, path, handler) in route_table().into_iter().chain(server_to_server) {
        router = router.route(path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::not_found_route().detail(format!(
        "There doesn't appear to be an api call for the url='{}'.",
        uri.path()
    ))
}
