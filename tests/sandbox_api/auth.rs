//! Sessions and permissions: login and logout, tokens, and what a plain user is refused.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::harness::Sandbox;

#[tokio::test]
async fn login_gives_a_token_header_and_refuses_a_bad_password() {
    let env = Sandbox::start().await;
    let (status, headers, user) = env
        .call_full(
            Method::POST,
            "/api/v4/users/login",
            None,
            Some(json!({"login_id": "sysadmin", "password": "Sys@dmin-sample1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["username"], "sysadmin");
    assert!(user.get("password").is_none());
    let token = headers["Token"].to_str().unwrap().to_string();
    let (status, me) = env
        .call(Method::GET, "/api/v4/users/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user["id"]);
    assert!(me["roles"].as_str().unwrap().contains("system_admin"));

    env.call_err(
        Method::POST,
        "/api/v4/users/login",
        None,
        Some(json!({"login_id": "sysadmin", "password": "nope"})),
        401,
        "api.user.login.invalid_credentials_email_username",
    )
    .await;

    let (status, _) = env
        .call(Method::POST, "/api/v4/users/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call(Method::GET, "/api/v4/users/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    env.finish().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let env = Sandbox::start().await;
    for token in [None, Some("not-a-token")] {
        env.call_err(
            Method::GET,
            "/api/v4/users/me",
            token,
            None,
            401,
            "api.context.session_expired.app_error",
        )
        .await;
    }
    let (status, me) = env
        .call(Method::GET, "/api/v4/users/me", Some("bottoken"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "sharebot");
    assert_eq!(me["is_bot"], true);
    env.finish().await;
}

#[tokio::test]
async fn plain_users_are_refused_private_channels_and_admin_routes() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let admins = env.sandbox.channel_id("engineering", "admins").unwrap();
    env.call_err(
        Method::GET,
        &format!("/api/v4/channels/{admins}"),
        Some(&user),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::GET,
        "/api/v4/teams/name/engineering/channels/name/admins",
        Some(&user),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::POST,
        "/api/v4/posts/ephemeral",
        Some(&user),
        Some(
            json!({"user_id": env.id("sysadmin"), "post": {"channel_id": admins, "message": "x"}}),
        ),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/users/{}/teams", env.id("sysadmin")),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts/ephemeral",
            Some("bottoken"),
            Some(json!({"user_id": env.id("sysadmin"), "post": {"channel_id": admins, "message": "only you"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(post["type"], "system_ephemeral");
    assert_eq!(post["user_id"], env.id("sharebot"));
    env.finish().await;
}
