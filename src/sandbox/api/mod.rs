//! The REST API under `/api/v4`: the route table the router and `served_routes` are both built
//! from (what handlers read from a request is in `request`).

use axum::routing::{delete, get, patch, post, put};

use super::core::shared::{Route, Shared};
use super::error::AppError;

mod actions;
mod channel_move;
mod channels;
mod incoming_hooks;
mod posts;
mod reactions;
mod remote_clusters;
mod request;
mod shared_channels;
mod system;
mod teams;
mod users;

/// Every API route: method, template (with the spec's parameter names) and handler.
pub(crate) fn route_table() -> Vec<Route> {
    [
        user_routes(),
        team_routes(),
        channel_routes(),
        post_routes(),
        action_routes(),
        remote_cluster_routes(),
        shared_channel_routes(),
        reaction_routes(),
        system_routes(),
        incoming_hook_routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `/users…`: accounts, and a user's teams and their channels.
fn user_routes() -> Vec<Route> {
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
            "/api/v4/users/{user_id}/channels",
            get(channels::of_user),
        ),
        (
            "GET",
            "/api/v4/users/{user_id}/teams/{team_id}/channels",
            get(channels::of_user_in_team),
        ),
    ]
}

/// `/teams…`: teams, their members and channels.
fn team_routes() -> Vec<Route> {
    vec![
        ("GET", "/api/v4/teams", get(teams::list)),
        ("POST", "/api/v4/teams", post(teams::create)),
        ("GET", "/api/v4/teams/{team_id}", get(teams::get_one)),
        ("DELETE", "/api/v4/teams/{team_id}", delete(teams::archive)),
        ("PUT", "/api/v4/teams/{team_id}/patch", put(teams::patch)),
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
            "PUT",
            "/api/v4/teams/{team_id}/members/{user_id}/schemeRoles",
            put(teams::update_scheme_roles),
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
    ]
}

/// `/channels…`: channels, direct channels, members, moves, a channel's posts.
fn channel_routes() -> Vec<Route> {
    vec![
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
    ]
}

/// `/posts…`: creating, ephemeral, reading and editing posts.
fn post_routes() -> Vec<Route> {
    vec![
        ("POST", "/api/v4/posts", post(posts::create)),
        ("POST", "/api/v4/posts/ephemeral", post(posts::ephemeral)),
        ("GET", "/api/v4/posts/{post_id}", get(posts::get_one)),
        ("PUT", "/api/v4/posts/{post_id}", put(posts::update)),
        ("DELETE", "/api/v4/posts/{post_id}", delete(posts::delete)),
        ("PUT", "/api/v4/posts/{post_id}/patch", put(posts::patch)),
    ]
}

/// Interactive messages and dialogs: button clicks, dialogs opened and submitted.
fn action_routes() -> Vec<Route> {
    vec![
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
    ]
}

/// `/remotecluster…`: secure connections and their invites.
fn remote_cluster_routes() -> Vec<Route> {
    vec![
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
    ]
}

/// Shared channels: invites of connections, links, a team's shared channels, remote info.
fn shared_channel_routes() -> Vec<Route> {
    vec![
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
    ]
}

/// Emoji reactions: adding, a post's list, removing.
fn reaction_routes() -> Vec<Route> {
    vec![
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
    ]
}

/// `/system/ping`, `/config/client`, `/config` and `/config/patch`.
fn system_routes() -> Vec<Route> {
    vec![
        ("GET", "/api/v4/system/ping", get(system::ping)),
        ("GET", "/api/v4/config/client", get(system::client_config)),
        ("GET", "/api/v4/config", get(system::config)),
        ("PUT", "/api/v4/config/patch", put(system::patch_config)),
    ]
}

/// `/hooks/incoming`: creating and listing incoming webhooks.
fn incoming_hook_routes() -> Vec<Route> {
    vec![
        (
            "POST",
            "/api/v4/hooks/incoming",
            post(incoming_hooks::create),
        ),
        ("GET", "/api/v4/hooks/incoming", get(incoming_hooks::list)),
    ]
}

/// Routes outside `/api/v4` that the server's `web` package serves (so the API spec does not
/// describe them): posting through an incoming webhook, which takes no session.
pub(crate) fn web_routes() -> Vec<Route> {
    vec![(
        "POST",
        "/hooks/{hook_id}",
        post(incoming_hooks::post_through),
    )]
}

/// The API router (no middleware) serving `server_to_server` too (the federation routes, which
/// take no session), with the server's 404 for unknown routes.
///
/// A known path with the wrong method is also a 404 AppError, not a 405: the real server's
/// gorilla/mux router records the method mismatch, then its catch-all `/api/v4/{anything:.*}`
/// route (`Handle404`, registered after the API) matches and clears it.
pub(crate) fn router(shared: Shared, server_to_server: Vec<Route>) -> axum::Router {
    let mut router = axum::Router::new();
    for (_, path, handler) in route_table()
        .into_iter()
        .chain(web_routes())
        .chain(server_to_server)
    {
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
