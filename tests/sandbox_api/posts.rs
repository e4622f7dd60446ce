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
