//! Post reactions in the sandbox, checked as a client of the real server would see them.

use crate::support::harness::Sandbox;
use crate::support::sandbox::{assert_app_error, assert_error_answer, next_named, socket};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A post by the bot in `team`/`channel`; returns its id.
async fn post_in(env: &Sandbox, team: &str, channel: &str, message: &str) -> String {
    let channel_id = env.sandbox.channel_id(team, channel).unwrap();
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": message})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    post["id"].as_str().unwrap().to_string()
}

async fn react(
    env: &Sandbox,
    token: &str,
    user_id: &str,
    post_id: &str,
    emoji: &str,
) -> (StatusCode, Value) {
    env.call(
        Method::POST,
        "/api/v4/reactions",
        Some(token),
        Some(json!({"user_id": user_id, "post_id": post_id, "emoji_name": emoji})),
    )
    .await
}

async fn reactions(env: &Sandbox, token: &str, post_id: &str) -> (StatusCode, Value) {
    env.call(
        Method::GET,
        &format!("/api/v4/posts/{post_id}/reactions"),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn a_reaction_is_added_listed_and_removed() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let me = env.id("user-1");
    let post_id = post_in(&env, "engineering", "town-square", "react to me").await;
    let channel_id = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();

    let (status, saved) = react(&env, &user, &me, &post_id, "+1").await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["user_id"], me.as_str());
    assert_eq!(saved["post_id"], post_id.as_str());
    assert_eq!(saved["emoji_name"], "+1");
    assert_eq!(saved["channel_id"], channel_id.as_str());
    assert_eq!(saved["remote_id"], "");
    assert_eq!(saved["delete_at"], 0);
    assert!(saved["create_at"].as_i64().unwrap() > 0);
    assert!(saved["update_at"].as_i64().unwrap() > 0);

    // Saving it again is no error and keeps a single reaction.
    let (status, _) = react(&env, &user, &me, &post_id, "+1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = react(&env, "bottoken", &env.id("sharebot"), &post_id, "smile").await;
    assert_eq!(status, StatusCode::OK);

    let (status, list) = reactions(&env, &user, &post_id).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["emoji_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["+1", "smile"]);

    let (_, post) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{post_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(post["has_reactions"], true, "{post}");
    assert_eq!(post["metadata"]["reactions"].as_array().unwrap().len(), 2);

    let (status, body) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/users/{me}/posts/{post_id}/reactions/+1"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "OK"}));
    let (_, list) = reactions(&env, &user, &post_id).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["emoji_name"], "smile");

    // The last one gone, the post no longer says it has reactions.
    let bot = env.id("sharebot");
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/users/{bot}/posts/{post_id}/reactions/smile"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = reactions(&env, &user, &post_id).await;
    assert_eq!(list, json!([]));
    let (_, post) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{post_id}"),
            Some(&user),
            None,
        )
        .await;
    assert!(post.get("has_reactions").is_none(), "{post}");
    assert!(post["metadata"].get("reactions").is_none(), "{post}");
    env.finish().await;
}

#[tokio::test]
async fn reacting_or_unreacting_for_someone_else_is_refused() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let post_id = post_in(&env, "engineering", "town-square", "hello").await;

    assert_error_answer(
        react(&env, &user, &env.id("sysadmin"), &post_id, "smile").await,
        403,
        "api.reaction.save_reaction.user_id.app_error",
    );
    // Not even a system admin reacts for another user.
    assert_error_answer(
        react(&env, &admin, &env.id("user-1"), &post_id, "smile").await,
        403,
        "api.reaction.save_reaction.user_id.app_error",
    );

    // Removing someone else's reaction needs remove_others_reactions (admins have it).
    let (status, _) = react(&env, &admin, &env.id("sysadmin"), &post_id, "smile").await;
    assert_eq!(status, StatusCode::OK);
    let admin_id = env.id("sysadmin");
    let path = format!("/api/v4/users/{admin_id}/posts/{post_id}/reactions/smile");
    let body = env
        .call_err(
            Method::DELETE,
            &path,
            Some(&user),
            None,
            403,
            "api.context.permissions.app_error",
        )
        .await;
    assert!(body["detailed_error"]
        .as_str()
        .unwrap()
        .contains("remove_others_reactions"));
    let me = env.id("user-1");
    let (status, _) = react(&env, &user, &me, &post_id, "smile").await;
    assert_eq!(status, StatusCode::OK);
    let mine = format!("/api/v4/users/{me}/posts/{post_id}/reactions/smile");
    let (status, _) = env.call(Method::DELETE, &mine, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = reactions(&env, &user, &post_id).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["user_id"], admin_id.as_str());
    env.finish().await;
}

#[tokio::test]
async fn bad_emoji_names_are_refused() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let me = env.id("user-1");
    let post_id = post_in(&env, "engineering", "town-square", "hello").await;

    for name in ["", &"a".repeat(65)] {
        let (status, body) = react(&env, &user, &me, &post_id, name).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_app_error(&body, 400, "api.reaction.save_reaction.invalid.app_error");
    }
    // A name no emoji can have is looked up as a custom emoji and not found.
    assert_error_answer(
        react(&env, &user, &me, &post_id, "no way!").await,
        404,
        "app.emoji.get_by_name.no_result",
    );
    let (status, body) = react(&env, &user, &me, &post_id, "smile").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // On removal the name is a URL parameter: too long is 400, outside the route's pattern 404.
    let long = "a".repeat(65);
    env.call_err(
        Method::DELETE,
        &format!("/api/v4/users/{me}/posts/{post_id}/reactions/{long}"),
        Some(&user),
        None,
        400,
        "api.context.invalid_url_param.app_error",
    )
    .await;
    env.call_err(
        Method::DELETE,
        &format!("/api/v4/users/{me}/posts/{post_id}/reactions/a.b"),
        Some(&user),
        None,
        404,
        "api.context.404.app_error",
    )
    .await;
    env.finish().await;
}

#[tokio::test]
async fn unreadable_missing_and_archived_posts_are_refused() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let me = env.id("user-1");
    let private = post_in(&env, "engineering", "admins", "admins only").await;

    let body = assert_error_answer(
        react(&env, &user, &me, &private, "smile").await,
        403,
        "api.context.permissions.app_error",
    );
    assert!(body["detailed_error"]
        .as_str()
        .unwrap()
        .contains("add_reaction"));
    assert_error_answer(
        reactions(&env, &user, &private).await,
        403,
        "api.context.permissions.app_error",
    );
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/users/{me}/posts/{private}/reactions/smile"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A missing post: only the system role is left, so a user gets 403 and an admin 404.
    let missing = "a".repeat(26);
    let (status, _) = react(&env, &user, &me, &missing, "smile").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error_answer(
        react(&env, &admin, &env.id("sysadmin"), &missing, "smile").await,
        404,
        "app.post.get.app_error",
    );
    assert_error_answer(
        reactions(&env, &user, "junk").await,
        400,
        "api.context.invalid_url_param.app_error",
    );
    assert_error_answer(
        react(&env, &user, &me, "junk", "smile").await,
        400,
        "api.reaction.save_reaction.invalid.app_error",
    );

    // An archived channel keeps its reactions as they are.
    let post_id = post_in(&env, "engineering", "off-topic", "soon archived").await;
    let (status, _) = react(&env, &user, &me, &post_id, "smile").await;
    assert_eq!(status, StatusCode::OK);
    let off_topic = env.sandbox.channel_id("engineering", "off-topic").unwrap();
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/channels/{off_topic}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error_answer(
        react(&env, &user, &me, &post_id, "wave").await,
        403,
        "api.reaction.save.archived_channel.app_error",
    );
    env.call_err(
        Method::DELETE,
        &format!("/api/v4/users/{me}/posts/{post_id}/reactions/smile"),
        Some(&user),
        None,
        403,
        "api.reaction.delete.archived_channel.app_error",
    )
    .await;
    env.finish().await;
}

#[tokio::test]
async fn channel_members_get_reaction_events_over_the_websocket() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let mut ws_user = socket(env.sandbox.site_url(), &user).await;
    let post_id = post_in(&env, "engineering", "town-square", "react here").await;
    let channel_id = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let admin_id = env.id("sysadmin");

    let (status, saved) = react(&env, &admin, &admin_id, &post_id, "tada").await;
    assert_eq!(status, StatusCode::OK);
    let ev = next_named(&mut ws_user, "reaction_added").await;
    assert_eq!(ev["broadcast"]["channel_id"], channel_id.as_str());
    let inner: Value = serde_json::from_str(
        ev["data"]["reaction"]
            .as_str()
            .expect("reaction is a JSON string"),
    )
    .unwrap();
    assert_eq!(inner, saved);

    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/users/{admin_id}/posts/{post_id}/reactions/tada"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ev = next_named(&mut ws_user, "reaction_removed").await;
    assert_eq!(ev["broadcast"]["channel_id"], channel_id.as_str());
    let inner: Value = serde_json::from_str(ev["data"]["reaction"].as_str().unwrap()).unwrap();
    assert_eq!(inner["user_id"], admin_id.as_str());
    assert_eq!(inner["post_id"], post_id.as_str());
    assert_eq!(inner["emoji_name"], "tada");
    assert!(inner["update_at"].as_i64().unwrap() > 0);
    env.finish().await;
}
