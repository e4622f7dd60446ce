//! `POST /api/v4/channels/{channel_id}/move` in the sandbox, checked as a client of the real
//! server would see it.

use crate::support::harness::Sandbox;
use crate::support::sandbox::{assert_app_error, assert_error_answer};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::{SandboxOptions, Seed};

/// A public channel created by the token's user in a team.
async fn new_channel(env: &Sandbox, token: &str, team: &str, name: &str) -> String {
    let (status, body) = env
        .call(
            Method::POST,
            "/api/v4/channels",
            Some(token),
            Some(json!({"team_id": env.team(team), "name": name,
                "display_name": name, "type": "O"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn add(env: &Sandbox, token: &str, channel: &str, username: &str) {
    let (status, body) = env
        .call(
            Method::POST,
            &format!("/api/v4/channels/{channel}/members"),
            Some(token),
            Some(json!({"user_id": env.id(username)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn move_to(env: &Sandbox, token: &str, channel: &str, body: Value) -> (StatusCode, Value) {
    env.call(
        Method::POST,
        &format!("/api/v4/channels/{channel}/move"),
        Some(token),
        Some(body),
    )
    .await
}

async fn is_member(env: &Sandbox, token: &str, channel: &str, username: &str) -> bool {
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel}/members/{}", env.id(username)),
            Some(token),
            None,
        )
        .await;
    status == StatusCode::OK
}

/// The channel's posts of a type, newest first.
async fn posts_of_type(env: &Sandbox, token: &str, channel: &str, post_type: &str) -> Vec<Value> {
    let (status, list) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel}/posts"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| list["posts"][id.as_str().unwrap()].clone())
        .filter(|p| p["type"] == post_type)
        .collect()
}

#[tokio::test]
async fn a_channel_moves_to_another_team_with_a_system_post() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let channel = new_channel(&env, &admin, "engineering", "move-me").await;
    let marketing = env.team("marketing");

    let (status, body) = move_to(
        &env,
        &admin,
        &channel,
        json!({"team_id": marketing, "force": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], channel);
    assert_eq!(body["team_id"], marketing);
    assert_eq!(body["name"], "move-me");

    let (_, read) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(read["team_id"], marketing);
    let posts = posts_of_type(&env, &admin, &channel, "system_move_channel").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0]["message"],
        "This channel has been moved to this team from engineering."
    );
    assert_eq!(posts[0]["user_id"], env.id("sysadmin"));
    assert_eq!(posts[0]["props"]["username"], "sysadmin");

    // Moving it to the team it is already in is a move like any other.
    let (status, body) = move_to(
        &env,
        &admin,
        &channel,
        json!({"team_id": marketing, "force": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let posts = posts_of_type(&env, &admin, &channel, "system_move_channel").await;
    assert_eq!(
        posts[0]["message"],
        "This channel has been moved to this team from marketing."
    );
    env.finish().await;
}

#[tokio::test]
async fn members_outside_the_team_refuse_the_move_unless_forced() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let channel = new_channel(&env, &admin, "engineering", "mixed").await;
    add(&env, &admin, &channel, "user-1").await;
    let marketing = env.team("marketing");

    assert_error_answer(
        move_to(
            &env,
            &admin,
            &channel,
            json!({"team_id": marketing, "force": false}),
        )
        .await,
        500,
        "app.channel.move_channel.members_do_not_match.error",
    );
    assert!(is_member(&env, &admin, &channel, "user-1").await);

    let (status, body) = move_to(
        &env,
        &admin,
        &channel,
        json!({"team_id": marketing, "force": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["team_id"], marketing);
    assert!(!is_member(&env, &admin, &channel, "user-1").await);
    assert!(is_member(&env, &admin, &channel, "sysadmin").await);
    // The forced removal makes no removal post; only the move is announced.
    assert!(
        posts_of_type(&env, &admin, &channel, "system_remove_from_channel")
            .await
            .is_empty()
    );
    assert_eq!(
        posts_of_type(&env, &admin, &channel, "system_move_channel")
            .await
            .len(),
        1
    );
    env.finish().await;
}

#[tokio::test]
async fn deactivated_members_are_dropped_before_the_check() {
    let seed = Seed::parse(
        r#"
[[teams]]
name = "engineering"
[[teams]]
name = "marketing"

[[users]]
username = "sysadmin"
password = "Sys@dmin-sample1"
roles = "system_user system_admin"
teams = ["engineering", "marketing"]

[[users]]
username = "gone"
password = "Gone-sample-1"
teams = ["engineering"]
deactivated = true

[[channels]]
team = "engineering"
name = "old-timers"
members = ["sysadmin", "gone"]
"#,
    )
    .unwrap();
    let env = Sandbox::start_with(SandboxOptions {
        seed,
        ..SandboxOptions::default()
    })
    .await;
    let admin = env.admin_token().await;
    let channel = env.sandbox.channel_id("engineering", "old-timers").unwrap();
    assert!(is_member(&env, &admin, &channel, "gone").await);

    let (status, body) = move_to(
        &env,
        &admin,
        &channel,
        json!({"team_id": env.team("marketing"), "force": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!is_member(&env, &admin, &channel, "gone").await);
    env.finish().await;
}

#[tokio::test]
async fn bad_bodies_unknown_teams_and_channels_are_refused_in_the_servers_order() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let channel = new_channel(&env, &admin, "engineering", "stays").await;
    let marketing = env.team("marketing");

    for (body, param) in [
        (json!({"force": false}), "team_id"),
        (json!({"team_id": 7, "force": false}), "team_id"),
        (json!({"team_id": marketing}), "force"),
        (json!({"team_id": marketing, "force": "true"}), "force"),
    ] {
        let (status, answer) = move_to(&env, &admin, &channel, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_app_error(&answer, 400, "api.context.invalid_body_param.app_error");
        assert!(
            answer["message"].as_str().unwrap().contains(param),
            "{answer}"
        );
    }

    assert_error_answer(
        move_to(
            &env,
            &admin,
            &channel,
            json!({"team_id": "abcdefghijklmnopqrstuvwxyz", "force": false}),
        )
        .await,
        404,
        "app.team.get.find.app_error",
    );

    // An unknown channel is reported before the body is read, even to a non-admin.
    assert_error_answer(
        move_to(&env, &user, "abcdefghijklmnopqrstuvwxyz", json!({})).await,
        404,
        "app.channel.get.existing.app_error",
    );

    // The body is read before the permission check.
    assert_error_answer(
        move_to(&env, &user, &channel, json!({})).await,
        400,
        "api.context.invalid_body_param.app_error",
    );

    let (_, read) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(read["team_id"], env.team("engineering"));
    env.finish().await;
}

#[tokio::test]
async fn non_admins_direct_channels_and_name_clashes_are_refused() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let engineering = env.team("engineering");
    let marketing = env.team("marketing");

    let own = new_channel(&env, &user, "engineering", "users-own").await;
    assert_error_answer(
        move_to(
            &env,
            &user,
            &own,
            json!({"team_id": engineering, "force": false}),
        )
        .await,
        403,
        "api.context.permissions.app_error",
    );

    let (status, dm) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some(&admin),
            Some(json!([env.id("sysadmin"), env.id("user-1")])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dm}");
    assert_error_answer(
        move_to(
            &env,
            &admin,
            dm["id"].as_str().unwrap(),
            json!({"team_id": marketing, "force": false}),
        )
        .await,
        403,
        "api.channel.move_channel.type.invalid",
    );

    let here = new_channel(&env, &admin, "engineering", "clash").await;
    new_channel(&env, &admin, "marketing", "clash").await;
    assert_error_answer(
        move_to(
            &env,
            &admin,
            &here,
            json!({"team_id": marketing, "force": false}),
        )
        .await,
        400,
        "store.sql_channel.save_channel.exists.app_error",
    );
    let (_, read) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{here}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(read["team_id"], engineering);
    assert!(posts_of_type(&env, &admin, &here, "system_move_channel")
        .await
        .is_empty());
    env.finish().await;
}
