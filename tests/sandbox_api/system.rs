//! Routes without a session (ping, client config), malformed requests, and every served route against the spec.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sharebot::sandbox::{self, SandboxOptions};

use crate::support::harness::Sandbox;
use crate::support::sandbox::assert_app_error;

#[tokio::test]
async fn malformed_requests_get_the_server_errors() {
    let env = Sandbox::start().await;
    env.call_err(
        Method::GET,
        "/api/v4/nothing/here",
        Some("bottoken"),
        None,
        404,
        "api.context.404.app_error",
    )
    .await;

    // A wrong method is the server's 404 too (its catch-all route wins over the method mismatch).
    env.call_err(
        Method::DELETE,
        "/api/v4/users/me",
        Some("bottoken"),
        None,
        404,
        "api.context.404.app_error",
    )
    .await;

    env.call_err(
        Method::GET,
        "/api/v4/channels/tooshort",
        Some("bottoken"),
        None,
        400,
        "api.context.invalid_url_param.app_error",
    )
    .await;

    env.call_err(
        Method::GET,
        "/api/v4/channels/not-an-id",
        Some("bottoken"),
        None,
        404,
        "api.context.404.app_error",
    )
    .await;

    env.call_err(
        Method::GET,
        &format!("/api/v4/channels/{}", "a".repeat(26)),
        Some("bottoken"),
        None,
        404,
        "app.channel.get.existing.app_error",
    )
    .await;

    let response = env
        .http
        .post(format!("{}/api/v4/posts", env.sandbox.site_url()))
        .bearer_auth("bottoken")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_app_error(&body, 400, "api.context.invalid_body_param.app_error");
    assert_eq!(body["is_oauth"], false);
    env.finish().await;
}

#[tokio::test]
async fn ping_and_client_config_need_no_session() {
    let env = Sandbox::start_with(SandboxOptions {
        name: "Org Alpha".into(),
        ..SandboxOptions::default()
    })
    .await;
    let (status, ping) = env
        .call(Method::GET, "/api/v4/system/ping", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ping["status"], "OK");
    let (status, config) = env
        .call(Method::GET, "/api/v4/config/client?format=old", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["SiteName"], "Org Alpha");
    assert_eq!(config["SiteURL"], env.sandbox.site_url());
    assert_eq!(config["Version"], sandbox::SERVER_VERSION);
    env.call_err(
        Method::GET,
        "/api/v4/config/client?format=new",
        None,
        None,
        501,
        "api.config.client.old_format.app_error",
    )
    .await;
    env.finish().await;
}

#[test]
fn every_served_route_is_in_the_spec() {
    let Some(spec) = crate::support::openapi::Spec::get() else {
        return;
    };
    let routes = sandbox::served_routes();
    assert!(routes.len() >= 30);
    for (method, template) in routes {
        assert!(
            spec.has_route(method, template),
            "{method} {template} is not in the spec"
        );
    }
}

#[tokio::test]
async fn a_system_admin_reads_and_patches_the_server_configuration() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let (status, config) = env
        .call(Method::GET, "/api/v4/config", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["ServiceSettings"]["PostEditTimeLimit"], -1);
    assert_eq!(config["TeamSettings"]["MaxUsersPerTeam"], 50);

    let (status, patched) = env
        .call(
            Method::PUT,
            "/api/v4/config/patch",
            Some(&admin),
            Some(serde_json::json!({"ServiceSettings": {"PostEditTimeLimit": 300}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["ServiceSettings"]["PostEditTimeLimit"], 300);
    assert_eq!(patched["PrivacySettings"]["ShowFullName"], true);
    let (_, config) = env
        .call(Method::GET, "/api/v4/config", Some(&admin), None)
        .await;
    assert_eq!(config["ServiceSettings"]["PostEditTimeLimit"], 300);

    // Not for a plain user, and a value of the wrong type is the server's 400.
    let user = env.login("user-1", "SampleUs@r-1").await;
    env.call_err(
        Method::GET,
        "/api/v4/config",
        Some(&user),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&user),
        Some(serde_json::json!({"ServiceSettings": {"PostEditTimeLimit": 0}})),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(serde_json::json!({"TeamSettings": {"MaxUsersPerTeam": "lots"}})),
        400,
        "api.context.invalid_body_param.app_error",
    )
    .await;
    env.finish().await;
}

#[tokio::test]
async fn the_client_config_serves_the_site_name_an_admin_sets() {
    let env = Sandbox::start_with(SandboxOptions {
        name: "Org Alpha".into(),
        ..SandboxOptions::default()
    })
    .await;
    let admin = env.admin_token().await;
    let (status, _) = env
        .call(
            Method::PUT,
            "/api/v4/config/patch",
            Some(&admin),
            Some(serde_json::json!({"TeamSettings": {"SiteName": "Alpha Corp"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, config) = env
        .call(Method::GET, "/api/v4/config/client?format=old", None, None)
        .await;
    assert_eq!(config["SiteName"], "Alpha Corp");
    // Over 30 bytes is the server's `Config.IsValid` refusal; nothing changes.
    env.call_err(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(serde_json::json!({"TeamSettings": {"SiteName": "x".repeat(31)}})),
        400,
        "model.config.is_valid.sitename_length.app_error",
    )
    .await;
    // Emptied, it is the server's default.
    env.call(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(serde_json::json!({"TeamSettings": {"SiteName": ""}})),
    )
    .await;
    let (_, config) = env
        .call(Method::GET, "/api/v4/config/client?format=old", None, None)
        .await;
    assert_eq!(config["SiteName"], "Mattermost");
    env.finish().await;
}
