//! Incoming webhooks as the server has them: created by someone allowed to, posting as their
//! owner with `from_webhook`, into the owner's DM with `@username`, refused when locked,
//! disabled or unknown; and what a person without `manage_system` sees of others.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::{SandboxOptions, Seed};

use crate::support::harness::Sandbox;
use crate::support::sandbox::assert_app_error;

/// Sends a request to `/hooks/{id}` (no session): status, and the text of the answer.
async fn post_hook(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let answer = request.send().await.unwrap();
    (answer.status(), answer.text().await.unwrap())
}

fn hook_url(env: &Sandbox, hook: &str) -> String {
    format!("{}/hooks/{hook}", env.site_url())
}

#[tokio::test]
async fn a_webhook_posts_as_its_owner_marked_from_webhook() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let admins = env.sandbox.channel_id("engineering", "admins").unwrap();

    // A plain user may not create one (`manage_own_incoming_webhooks`).
    env.call_err(
        Method::POST,
        "/api/v4/hooks/incoming",
        Some(&user),
        Some(json!({"channel_id": town})),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    let (status, hook) = env
        .call(
            Method::POST,
            "/api/v4/hooks/incoming",
            Some(&admin),
            Some(
                json!({"channel_id": town, "display_name": "CI", "description": "builds",
                        "channel_locked": false, "username": "ci-bot"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().unwrap().to_string();
    assert_eq!(hook["user_id"], env.id("sysadmin").as_str());
    assert_eq!(hook["team_id"], env.team("engineering").as_str());
    assert_eq!(
        hook["username"], "",
        "no username without EnablePostUsernameOverride"
    );
    let (status, listed) = env
        .call(Method::GET, "/api/v4/hooks/incoming", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], id.as_str());

    // JSON into its own channel, as its owner.
    let (status, text) = post_hook(
        env.http
            .post(hook_url(&env, &id))
            .json(&json!({"text": "build green"})),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    let post = env
        .sandbox
        .find_post(|p| p.message == "build green")
        .unwrap();
    assert_eq!(post.channel_id, town);
    assert_eq!(post.user_id, env.id("sysadmin"));
    assert_eq!(post.props["from_webhook"], "true");
    assert_eq!(post.props["webhook_display_name"], "CI");
    assert!(post.props.get("override_username").is_none());

    // A form with `payload`, into the owner's DM with a user; the marks cannot be forged.
    let payload = json!({"channel": "@sharebot", "text": "hello bot",
                         "props": {"from_webhook": "false"}})
    .to_string();
    let (status, _) = post_hook(
        env.http
            .post(hook_url(&env, &id))
            .form(&[("payload", payload.as_str())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let post = env.sandbox.find_post(|p| p.message == "hello bot").unwrap();
    let (_, dm) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some(&admin),
            Some(json!([env.id("sysadmin"), env.id("sharebot")])),
        )
        .await;
    assert_eq!(post.channel_id, dm["id"].as_str().unwrap());
    assert_eq!(post.props["from_webhook"], "true");

    // A channel of the hook's team by name.
    let (status, _) = post_hook(
        env.http
            .post(hook_url(&env, &id))
            .json(&json!({"channel": "admins", "text": "to admins"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.sandbox
            .find_post(|p| p.message == "to admins")
            .unwrap()
            .channel_id,
        admins
    );

    // Errors: no text, an unknown user or hook, all wrapped as the web handler does.
    for (body, status_code) in [
        (json!({"text": ""}), 400),
        (json!({"channel": "@nobody", "text": "x"}), 400),
        (json!({"channel": "no-such", "text": "x"}), 404),
    ] {
        let answer = env
            .http
            .post(hook_url(&env, &id))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status_code, "{body}");
        let error: Value = answer.json().await.unwrap();
        assert_app_error(
            &error,
            status_code,
            "web.incoming_webhook.general.app_error",
        );
    }
    let unknown = "a".repeat(26);
    let answer = env
        .http
        .post(hook_url(&env, &unknown))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    env.finish().await;
}

#[tokio::test]
async fn locked_and_disabled_webhooks_refuse_as_the_server_does() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let (_, hook) = env
        .call(
            Method::POST,
            "/api/v4/hooks/incoming",
            Some(&admin),
            Some(json!({"channel_id": town, "channel_locked": true})),
        )
        .await;
    let id = hook["id"].as_str().unwrap().to_string();
    let answer = env
        .http
        .post(hook_url(&env, &id))
        .json(&json!({"channel": "@sharebot", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(env.sandbox.find_post(|p| p.message == "x").is_none());

    let (status, _) = env
        .call(
            Method::PUT,
            "/api/v4/config/patch",
            Some(&admin),
            Some(json!({"ServiceSettings": {"EnableIncomingWebhooks": false}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.call_err(
        Method::POST,
        "/api/v4/hooks/incoming",
        Some(&admin),
        Some(json!({"channel_id": town})),
        501,
        "api.incoming_webhook.disabled.app_error",
    )
    .await;
    let answer = env
        .http
        .post(hook_url(&env, &id))
        .json(&json!({"text": "while disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 501);
    env.finish().await;
}

#[tokio::test]
async fn full_names_reach_only_admins_when_show_full_name_is_off() {
    let mut seed = Seed::default();
    if let Some(two) = seed.users.iter_mut().find(|u| u.username == "sysadmin2") {
        two.display_name = Some("Grace Hopper".into());
    }
    let env = Sandbox::start_with(SandboxOptions {
        seed,
        ..SandboxOptions::default()
    })
    .await;
    let admin = env.admin_token().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let path = format!("/api/v4/users/{}", env.id("sysadmin2"));
    let (_, seen) = env.call(Method::GET, &path, Some(&user), None).await;
    assert_eq!(seen["first_name"], "Grace", "shown by default");
    env.call(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(json!({"PrivacySettings": {"ShowFullName": false}})),
    )
    .await;
    let (_, seen) = env.call(Method::GET, &path, Some(&user), None).await;
    assert_eq!(
        (seen["first_name"].as_str(), seen["last_name"].as_str()),
        (Some(""), Some(""))
    );
    let (_, seen) = env
        .call(
            Method::GET,
            "/api/v4/users/username/sysadmin2",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(seen["first_name"], "");
    let (_, seen) = env.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(seen["last_name"], "Hopper", "a system admin still sees it");
    env.finish().await;
}

#[tokio::test]
async fn a_direct_channel_is_found_by_name_under_any_team() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let (_, dm) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some(&admin),
            Some(json!([env.id("sysadmin"), env.id("user-1")])),
        )
        .await;
    let name = dm["name"].as_str().unwrap();
    let (status, found) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/name/marketing/channels/name/{name}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["id"], dm["id"]);
    env.finish().await;
}
