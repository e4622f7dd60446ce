//! Posts: edits, who may edit, and `posted` events with per-recipient mentions.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::harness::Sandbox;
use crate::support::sandbox::{next_event, socket};

/// `PUT /posts/{id}/patch` and `PUT /posts/{id}` replace props whole (server `model.Post.Patch`,
/// `app.UpdatePost`): an edit that means to keep buttons must send them again.
#[tokio::test]
async fn edits_replace_props_entirely() {
    let env = Sandbox::start().await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let (_, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": town, "message": "v1", "props": {"a": "1", "b": "2"}})),
        )
        .await;
    let id = post["id"].as_str().unwrap();
    let props = |v: &Value| v["props"].as_object().cloned().unwrap_or_default();
    assert_eq!(
        Value::Object(props(&post)),
        json!({"a": "1", "b": "2", "from_bot": "true"}),
        "a bot's post is marked from_bot"
    );
    let (status, patched) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}/patch"),
            Some("bottoken"),
            Some(json!({"props": {"c": "3"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Value::Object(props(&patched)), json!({"c": "3"}));
    let (_, patched) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}/patch"),
            Some("bottoken"),
            Some(json!({"message": "v2"})),
        )
        .await;
    assert_eq!(
        Value::Object(props(&patched)),
        json!({"c": "3"}),
        "a patch without props keeps them"
    );
    let (status, updated) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}"),
            Some("bottoken"),
            Some(json!({"id": id, "message": "v3", "props": {"d": "4"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Value::Object(props(&updated)), json!({"d": "4"}));
    let (_, updated) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}"),
            Some("bottoken"),
            Some(json!({"id": id, "message": "v4"})),
        )
        .await;
    assert!(
        props(&updated).is_empty(),
        "an update without props clears them: {updated}"
    );
    env.finish().await;
}

#[tokio::test]
async fn only_the_author_or_an_admin_edits_a_post() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let (_, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": town, "message": "v1"})),
        )
        .await;
    let id = post["id"].as_str().unwrap();
    env.call_err(
        Method::PUT,
        &format!("/api/v4/posts/{id}/patch"),
        Some(&user),
        Some(json!({"message": "hacked"})),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    let (status, patched) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}/patch"),
            Some("bottoken"),
            Some(json!({"message": "v2"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["message"], "v2");
    assert!(patched["edit_at"].as_i64().unwrap() > 0);
    env.call_err(
        Method::PUT,
        &format!("/api/v4/posts/{id}"),
        Some("bottoken"),
        Some(json!({"id": town, "message": "v3"})),
        400,
        "api.context.invalid_body_param.app_error",
    )
    .await;
    let (status, updated) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{id}"),
            Some("bottoken"),
            Some(json!({"id": id, "message": "v3"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["message"], "v3");
    let (_, read) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(read["message"], "v3");
    env.finish().await;
}

#[tokio::test]
async fn posted_events_reach_channel_members_with_per_recipient_mentions() {
    let env = Sandbox::start().await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let admin2 = env.login("sysadmin2", "Sys@dmin-sample2").await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let mut ws_admin2 = socket(env.sandbox.site_url(), &admin2).await;
    let mut ws_bot = socket(env.sandbox.site_url(), "bottoken").await;
    let mut ws_user = socket(env.sandbox.site_url(), &user).await;
    let channel = env.sandbox.channel_id("engineering", "admins").unwrap();

    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some(&admin),
            Some(json!({"channel_id": channel, "message": "please check @sysadmin2"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");

    let ev = next_event(&mut ws_admin2).await;
    assert_eq!(ev["event"], "posted");
    assert_eq!(ev["seq"], 1, "seq counts per connection from the hello's 0");
    assert_eq!(ev["broadcast"]["channel_id"], channel.as_str());
    let inner: Value =
        serde_json::from_str(ev["data"]["post"].as_str().expect("post is a JSON string")).unwrap();
    assert_eq!(inner["id"], post["id"]);
    assert_eq!(inner["message"], "please check @sysadmin2");
    assert_eq!(ev["data"]["channel_type"], "P");
    assert_eq!(ev["data"]["channel_name"], "admins");
    assert_eq!(ev["data"]["sender_name"], "@sysadmin");
    let mentions: Vec<String> = serde_json::from_str(
        ev["data"]["mentions"]
            .as_str()
            .expect("mentions is a JSON string"),
    )
    .unwrap();
    assert_eq!(mentions, vec![env.id("sysadmin2")]);

    let ev = next_event(&mut ws_bot).await;
    assert_eq!(ev["event"], "posted");
    assert!(
        ev["data"].get("mentions").is_none(),
        "only the mentioned recipient gets mentions: {ev}"
    );

    // user-1 is not in the private channel: nothing reaches its socket.
    use futures_util::StreamExt;
    let nothing = tokio::time::timeout(Duration::from_millis(200), ws_user.next()).await;
    assert!(
        nothing.is_err()
            || !matches!(&nothing, Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) if t.contains("\"posted\"")),
        "a non-member got the post"
    );
    env.finish().await;
}

/// Creates a post as the holder of `token` in `channel`; returns its id.
async fn post_as(env: &Sandbox, token: &str, channel: &str, message: &str) -> String {
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some(token),
            Some(json!({"channel_id": channel, "message": message})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    post["id"].as_str().unwrap().to_string()
}

/// `ServiceSettings.PostEditTimeLimit` (`api4/post.go`, `postPatchChecks` and `updatePost`):
/// once a post is older than the limit, a patch that carries `message` at all (even the same
/// text) and an update that changes it are refused for every author, bots and admins
/// included; a patch of props alone still passes.
#[tokio::test]
async fn past_the_edit_time_limit_only_edits_without_a_message_pass() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let (status, _) = env
        .call(
            Method::PUT,
            "/api/v4/config/patch",
            Some(&admin),
            Some(json!({"ServiceSettings": {"PostEditTimeLimit": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let old = post_as(&env, "bottoken", &town, "v1").await;
    // The post must be older than the limit: wait on the server's own record of it.
    let created = env.sandbox.stored_post(&old).unwrap().create_at;
    while sharebot::ids::now_ms() <= created + 1000 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let limit = "api.post.update_post.permissions_time_limit.app_error";
    let patch = format!("/api/v4/posts/{old}/patch");
    for (token, body) in [
        ("bottoken", json!({"message": "v2"})),
        ("bottoken", json!({"message": "v1", "props": {"a": "1"}})),
        (admin.as_str(), json!({"message": "v2"})),
    ] {
        env.call_err(Method::PUT, &patch, Some(token), Some(body), 400, limit)
            .await;
    }
    let update = format!("/api/v4/posts/{old}");
    env.call_err(
        Method::PUT,
        &update,
        Some("bottoken"),
        Some(json!({"id": old, "message": "v2"})),
        400,
        limit,
    )
    .await;
    let (status, patched) = env
        .call(
            Method::PUT,
            &patch,
            Some("bottoken"),
            Some(json!({"props": {"attachments": [{"text": "decided"}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["message"], "v1");
    assert_eq!(patched["props"]["attachments"][0]["text"], "decided");
    let (status, updated) = env
        .call(
            Method::PUT,
            &update,
            Some("bottoken"),
            Some(json!({"id": old, "message": "v1", "props": {"b": "2"}})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an update keeping the message passes: {updated}"
    );
    // A post younger than the limit is edited as usual.
    let young = post_as(&env, "bottoken", &town, "fresh").await;
    let (status, _) = env
        .call(
            Method::PUT,
            &format!("/api/v4/posts/{young}/patch"),
            Some("bottoken"),
            Some(json!({"message": "fresh, edited"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.finish().await;
}

/// `app.UpdatePost` / `app.PatchPost`: a system post is never edited, nor any post in an
/// archived channel (a patch says so with an id of its own), whoever asks.
#[tokio::test]
async fn system_posts_and_posts_in_archived_channels_cannot_be_edited() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let (status, channel) = env
        .call(
            Method::POST,
            "/api/v4/channels",
            Some(&admin),
            Some(json!({"team_id": env.team("engineering"), "name": "old-desk", "display_name": "Old desk", "type": "O"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let channel = channel["id"].as_str().unwrap().to_string();
    let (status, _) = env
        .call(
            Method::POST,
            &format!("/api/v4/channels/{channel}/members"),
            Some(&admin),
            Some(json!({"user_id": env.id("user-1")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let system = env
        .sandbox
        .find_post(|p| p.channel_id == channel && p.post_type == "system_add_to_channel")
        .expect("the add post");
    env.call_err(
        Method::PUT,
        &format!("/api/v4/posts/{}/patch", system.id),
        Some(&admin),
        Some(json!({"props": {"x": "1"}})),
        400,
        "api.post.update_post.system_message.app_error",
    )
    .await;
    let mine = post_as(&env, "bottoken", &channel, "before the archive").await;
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/channels/{channel}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.call_err(
        Method::PUT,
        &format!("/api/v4/posts/{mine}/patch"),
        Some("bottoken"),
        Some(json!({"props": {"x": "1"}})),
        400,
        "api.post.patch_post.can_not_update_post_in_deleted.error",
    )
    .await;
    env.call_err(
        Method::PUT,
        &format!("/api/v4/posts/{mine}"),
        Some(&admin),
        Some(json!({"id": mine, "message": "before the archive"})),
        400,
        "api.post.update_post.can_not_update_post_in_deleted.error",
    )
    .await;
    env.finish().await;
}

/// `deduplicateCreatePost` (server `app/post.go`): a create carrying a `pending_post_id` seen
/// within 30 s gets the first post back (201) instead of a second one; another id, or none,
/// makes a new post; a first post since deleted cannot be fetched, a 500.
#[tokio::test]
async fn a_repeated_pending_post_id_gets_the_first_post_back() {
    let env = Sandbox::start().await;
    let town = env
        .sandbox
        .channel_id("engineering", "town-square")
        .unwrap();
    let create = |pending: &str, message: &str| json!({"channel_id": town, "message": message, "pending_post_id": pending});
    let (status, first) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(create("answer-1", "first")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(create("answer-1", "second")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"], "the first post comes back");
    assert_eq!(again["message"], "first");
    let copies = |text: &str| {
        env.sandbox
            .posts(|p| p.channel_id == town && p.message == text)
            .len()
    };
    assert_eq!((copies("first"), copies("second")), (1, 0));
    let (_, other) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(create("answer-2", "second")),
        )
        .await;
    assert_ne!(
        other["id"], first["id"],
        "another pending id is another post"
    );
    let (_, plain) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(create("", "second")),
        )
        .await;
    assert_ne!(
        plain["id"], other["id"],
        "without one nothing is deduplicated"
    );
    let id = first["id"].as_str().unwrap();
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/posts/{id}"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.call_err(
        Method::POST,
        "/api/v4/posts",
        Some("bottoken"),
        Some(create("answer-1", "third")),
        500,
        "api.post.deduplicate_create_post.failed_to_get",
    )
    .await;
    env.finish().await;
}
