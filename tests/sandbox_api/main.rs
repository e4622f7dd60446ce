//! REST behaviour of the sandbox, checked as a client of the real server would see it.

#[path = "../support/mod.rs"]
mod support;

mod move_channel;
mod reactions;

use support::harness::Sandbox;
use support::sandbox::{assert_app_error, next_event, socket};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::{self, SandboxOptions};

/// An HTTP endpoint standing in for an integration: records each JSON body it gets and
/// answers with the configured status and body.
#[derive(Clone)]
struct Integration {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<(u16, Value)>>,
}

async fn integration() -> Integration {
    let received = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(Mutex::new((200u16, json!({}))));
    let (r, a) = (received.clone(), answer.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (r, a) = (r.clone(), a.clone());
            async move {
                r.lock().unwrap().push(body);
                let (status, value) = a.lock().unwrap().clone();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(value),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Integration {
        url,
        received,
        answer,
    }
}

impl Integration {
    fn answer(&self, status: u16, body: Value) {
        *self.answer.lock().unwrap() = (status, body);
    }
    fn last(&self) -> Value {
        self.received.lock().unwrap().last().cloned().unwrap()
    }
}

/// The bot posts an interactive message in `admins`; returns the post as answered.
async fn post_buttons(env: &Sandbox, hook: &Integration) -> Value {
    let channel_id = env.sandbox.channel_id("engineering", "admins").unwrap();
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({
                "channel_id": channel_id,
                "message": "Incoming shared channel",
                "props": {"attachments": [{"text": "Review", "actions": [
                    {"id": "accept", "name": "Accept", "type": "button",
                     "integration": {"url": hook.url, "context": {"step": "accept", "request": 7}}},
                    {"name": "Team", "type": "select",
                     "options": [{"text": "Eng", "value": "engineering"}],
                     "integration": {"url": hook.url, "context": {"step": "team"}}}
                ]}]}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    post
}

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
async fn listing_system_admins_gives_the_two_admins_and_the_bot() {
    let env = Sandbox::start().await;
    let (status, users) = env
        .call(
            Method::GET,
            "/api/v4/users?role=system_admin&active=true&per_page=200&page=0",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sharebot", "sysadmin", "sysadmin2"]);
    assert!(
        users[1].get("notify_props").is_none(),
        "others are sanitised"
    );

    let team = env.sandbox.team_id("engineering").unwrap();
    let (_, members) = env
        .call(
            Method::GET,
            &format!("/api/v4/users?in_team={team}"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 4);
    let ids = json!([env.id("user-1"), env.id("sysadmin")]);
    let (status, found) = env
        .call(
            Method::POST,
            "/api/v4/users/ids",
            Some("bottoken"),
            Some(ids),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found.as_array().unwrap().len(), 2);
    let (status, user) = env
        .call(
            Method::GET,
            "/api/v4/users/username/user-1",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["id"], env.id("user-1"));
    env.finish().await;
}

#[tokio::test]
async fn teams_and_channels_are_read_as_the_server_answers() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let (_, teams) = env
        .call(Method::GET, "/api/v4/teams", Some("bottoken"), None)
        .await;
    assert_eq!(teams.as_array().unwrap().len(), 3);
    let (_, teams) = env
        .call(Method::GET, "/api/v4/teams", Some(&user), None)
        .await;
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["engineering", "marketing"],
        "the invite-only inbox is hidden"
    );
    assert_eq!(teams[0]["email"], "", "sanitised for non-admins");

    let (status, inbox) = env
        .call(
            Method::GET,
            "/api/v4/teams/name/shared-inbox",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["type"], "I");
    assert_eq!(inbox["allow_open_invite"], false);
    let inbox_id = inbox["id"].as_str().unwrap();
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{inbox_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, member) = env
        .call(
            Method::POST,
            &format!("/api/v4/teams/{inbox_id}/members"),
            Some("bottoken"),
            Some(json!({"team_id": inbox_id, "user_id": env.id("user-1")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(member["user_id"], env.id("user-1"));
    let (_, members) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{inbox_id}/members"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 4);

    let (status, channel) = env
        .call(
            Method::GET,
            "/api/v4/teams/name/engineering/channels/name/town-square",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(channel["display_name"], "Town Square");
    let team = env.sandbox.team_id("engineering").unwrap();
    let (_, public) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team}/channels"),
            Some(&user),
            None,
        )
        .await;
    let names: Vec<&str> = public
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["off-topic", "town-square"],
        "private channels are not listed"
    );

    let (status, created) = env
        .call(
            Method::POST,
            "/api/v4/channels",
            Some(&user),
            Some(
                json!({"team_id": team, "name": "release", "display_name": "Release", "type": "O"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["creator_id"], env.id("user-1"));
    let channel_id = created["id"].as_str().unwrap().to_string();
    env.call_err(
        Method::POST,
        "/api/v4/channels",
        Some(&user),
        Some(json!({"team_id": team, "name": "release", "display_name": "Release", "type": "O"})),
        400,
        "store.sql_channel.save_channel.exists.app_error",
    )
    .await;

    let (status, member) = env
        .call(
            Method::POST,
            &format!("/api/v4/channels/{channel_id}/members"),
            Some(&user),
            Some(json!({"user_id": env.id("sysadmin")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(member["scheme_admin"], false);
    let (_, posts) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some(&user),
            None,
        )
        .await;
    let first = &posts["posts"][posts["order"][0].as_str().unwrap()];
    assert_eq!(first["type"], "system_add_to_channel");
    let (status, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/members/{}", env.id("user-1")),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member["scheme_admin"], true);

    let (status, body) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/channels/{channel_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "OK"}));
    let (_, archived) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}"),
            Some(&user),
            None,
        )
        .await;
    assert!(archived["delete_at"].as_i64().unwrap() > 0);
    env.finish().await;
}

#[tokio::test]
async fn a_direct_channel_is_created_once_and_carries_posts() {
    let env = Sandbox::start().await;
    let pair = json!([env.id("sharebot"), env.id("sysadmin")]);
    let (status, first) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some("bottoken"),
            Some(pair.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["type"], "D");
    assert_eq!(first["team_id"], "");
    let mut ids = [env.id("sharebot"), env.id("sysadmin")];
    ids.sort();
    assert_eq!(first["name"], format!("{}__{}", ids[0], ids[1]));
    let (status, second) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some("bottoken"),
            Some(pair),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["id"], first["id"]);

    let channel_id = first["id"].as_str().unwrap();
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": "hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(post["user_id"], env.id("sharebot"));
    let (status, reply) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": "again", "root_id": post["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["order"], json!([reply["id"], post["id"]]));
    assert_eq!(
        list["posts"][post["id"].as_str().unwrap()]["message"],
        "hello"
    );
    assert_eq!(list["has_next"], false);
    let since = reply["create_at"].as_i64().unwrap();
    let (status, recent) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts?since={since}&page=0&per_page=60"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recent}");
    assert!(recent["order"].as_array().unwrap().contains(&reply["id"]));
    let (status, page) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts?page=1&per_page=1"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["order"], json!([post["id"]]));

    let user = env.login("user-1", "SampleUs@r-1").await;
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some(&user),
            Some(json!({"channel_id": channel_id, "message": "intruder"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    env.finish().await;
}

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
async fn a_button_click_reaches_the_integration_and_applies_its_answer() {
    let env = Sandbox::start().await;
    let hook = integration().await;
    let post = post_buttons(&env, &hook).await;
    let text = post.to_string();
    assert!(
        !text.contains("integration"),
        "REST answers strip integrations: {text}"
    );
    let post_id = post["id"].as_str().unwrap();
    let select_id = post["props"]["attachments"][0]["actions"][1]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        select_id.len(),
        26,
        "the server gives actions without an id one"
    );
    let stored = env.sandbox.stored_post(post_id).unwrap();
    assert!(
        serde_json::to_string(&stored).unwrap().contains(&hook.url),
        "the state keeps it"
    );
    let (_, read) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{post_id}"),
            Some("bottoken"),
            None,
        )
        .await;
    assert!(!read.to_string().contains("integration"));

    hook.answer(
        200,
        json!({"update": {"message": "Accepted by @sysadmin", "props": {}}, "ephemeral_text": "Done."}),
    );
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let (status, answer) = env
        .call(
            Method::POST,
            &format!("/api/v4/posts/{post_id}/actions/accept"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "OK");
    assert_eq!(answer["trigger_id"].as_str().unwrap().len(), 26);

    let got = hook.last();
    let channel_id = env.sandbox.channel_id("engineering", "admins").unwrap();
    assert_eq!(got["user_id"], env.id("sysadmin"));
    assert_eq!(got["user_name"], "sysadmin");
    assert_eq!(got["channel_id"], channel_id);
    assert_eq!(got["channel_name"], "admins");
    assert_eq!(got["team_id"], env.sandbox.team_id("engineering").unwrap());
    assert_eq!(got["team_domain"], "engineering");
    assert_eq!(got["post_id"], post_id);
    assert_eq!(got["type"], "button");
    assert_eq!(got["data_source"], "");
    assert_eq!(got["context"], json!({"step": "accept", "request": 7}));
    assert!(
        got["trigger_id"].as_str().unwrap().len() > 26,
        "the integration gets the signed id"
    );

    let (_, updated) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{post_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(updated["message"], "Accepted by @sysadmin");
    assert_eq!(updated["id"], post_id);
    assert!(updated["props"].get("attachments").is_none());

    // A select sends the chosen value in the context.
    let post = post_buttons(&env, &hook).await;
    let post_id = post["id"].as_str().unwrap();
    let select_id = post["props"]["attachments"][0]["actions"][1]["id"]
        .as_str()
        .unwrap();
    // An update without `props` keeps the post's props (and their integrations, server-side).
    hook.answer(200, json!({"update": {"message": "Team chosen"}}));
    let (status, _) = env
        .call(
            Method::POST,
            &format!("/api/v4/posts/{post_id}/actions/{select_id}"),
            Some(&admin),
            Some(json!({"selected_option": "engineering"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = hook.last();
    assert_eq!(got["type"], "select");
    assert_eq!(
        got["context"],
        json!({"step": "team", "selected_option": "engineering"})
    );
    let (_, updated) = env
        .call(
            Method::GET,
            &format!("/api/v4/posts/{post_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(updated["message"], "Team chosen");
    assert_eq!(
        updated["props"]["attachments"][0]["actions"][1]["id"],
        select_id
    );
    assert!(!updated.to_string().contains("integration"));
    let stored = env.sandbox.stored_post(post_id).unwrap();
    assert!(serde_json::to_string(&stored).unwrap().contains(&hook.url));
    env.finish().await;
}

#[tokio::test]
async fn clicks_fail_as_the_server_does() {
    let env = Sandbox::start().await;
    let hook = integration().await;
    let post = post_buttons(&env, &hook).await;
    let post_id = post["id"].as_str().unwrap();
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let user = env.login("user-1", "SampleUs@r-1").await;

    hook.answer(500, json!({}));
    env.call_err(
        Method::POST,
        &format!("/api/v4/posts/{post_id}/actions/accept"),
        Some(&admin),
        None,
        400,
        "api.post.do_action.action_integration.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        &format!("/api/v4/posts/{post_id}/actions/missing"),
        Some(&admin),
        None,
        404,
        "api.post.do_action.action_id.app_error",
    )
    .await;

    let (status, body) = env
        .call(
            Method::POST,
            &format!("/api/v4/posts/{post_id}/actions/accept"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "user-1 cannot read admins");
    assert_app_error(&body, 403, "api.context.permissions.app_error");

    // The server saves a non-alphanumeric action id, but its router never matches a click on it.
    let channel_id = env.sandbox.channel_id("engineering", "admins").unwrap();
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": "m", "props": {"attachments": [{"actions": [
                {"id": "bad_id", "name": "Bad", "type": "button", "integration": {"url": hook.url}}
            ]}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        post["props"]["attachments"][0]["actions"][0]["id"],
        "bad_id"
    );
    let post_id = post["id"].as_str().unwrap();
    env.call_err(
        Method::POST,
        &format!("/api/v4/posts/{post_id}/actions/bad_id"),
        Some(&admin),
        None,
        404,
        "api.context.404.app_error",
    )
    .await;
    env.finish().await;
}

#[tokio::test]
async fn a_click_trigger_opens_a_dialog_until_it_expires() {
    let env = Sandbox::start().await;
    let hook = integration().await;
    let post = post_buttons(&env, &hook).await;
    let post_id = post["id"].as_str().unwrap();
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let mut ws_admin = socket(env.sandbox.site_url(), &admin).await;
    let (status, click) = env
        .call(
            Method::POST,
            &format!("/api/v4/posts/{post_id}/actions/accept"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let trigger = hook.last()["trigger_id"].as_str().unwrap().to_string();
    let dialog = |trigger: &str| {
        json!({"trigger_id": trigger, "url": hook.url, "dialog": {
            "callback_id": "choose", "title": "Choose a team", "elements": [
                {"display_name": "Note", "name": "note", "type": "text", "optional": true}
            ], "submit_label": "Accept", "notify_on_cancel": false, "state": "s1"}})
    };
    let (status, body) = env
        .call(
            Method::POST,
            "/api/v4/actions/dialogs/open",
            Some("bottoken"),
            Some(dialog(&trigger)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "OK"}));
    // The clicker's client gets `open_dialog` with the whole request as a JSON string
    // (after any events the click itself caused).
    let event = loop {
        let ev = next_event(&mut ws_admin).await;
        if ev["event"] == "open_dialog" {
            break ev;
        }
    };
    let opened: Value = serde_json::from_str(
        event["data"]["dialog"]
            .as_str()
            .expect("dialog is a JSON string"),
    )
    .unwrap();
    // As OpenInteractiveDialog does, the event carries the client's short trigger id (the
    // one the click answered), not the signed one the integration used.
    assert_eq!(opened["trigger_id"], click["trigger_id"]);
    assert_ne!(opened["trigger_id"], trigger.as_str());
    assert_eq!(opened["url"], hook.url.as_str());
    assert_eq!(opened["dialog"]["title"], "Choose a team");
    assert_eq!(event["broadcast"]["user_id"], env.id("sysadmin"));

    // As on the real server, opening needs no session and does not check who calls: the
    // `open_dialog` event goes to the user the trigger was issued to (here sysadmin).
    let other_admin = env.login("sysadmin2", "Sys@dmin-sample2").await;
    for token in [None, Some(other_admin.as_str())] {
        let (status, _) = env
            .call(
                Method::POST,
                "/api/v4/actions/dialogs/open",
                token,
                Some(dialog(&trigger)),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    env.call_err(
        Method::POST,
        "/api/v4/actions/dialogs/open",
        None,
        Some(json!({"trigger_id": trigger, "dialog": {"title": "x"}})),
        400,
        "api.context.invalid_body_param.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        "/api/v4/actions/dialogs/open",
        Some("bottoken"),
        Some(dialog("Zm9v")),
        400,
        "interactive_message.decode_trigger_id.missing_data",
    )
    .await;

    // A trigger signed by another instance fails the signature check.
    let other = Sandbox::start_with(SandboxOptions::default()).await;
    let other_hook = integration().await;
    let other_post = post_buttons(&other, &other_hook).await;
    let other_admin = other.login("sysadmin", "Sys@dmin-sample1").await;
    other
        .call(
            Method::POST,
            &format!(
                "/api/v4/posts/{}/actions/accept",
                other_post["id"].as_str().unwrap()
            ),
            Some(&other_admin),
            None,
        )
        .await;
    let foreign = other_hook.last()["trigger_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.call_err(
        Method::POST,
        "/api/v4/actions/dialogs/open",
        Some("bottoken"),
        Some(dialog(&foreign)),
        400,
        "interactive_message.decode_trigger_id.verify_signature_failed",
    )
    .await;
    other.finish().await;
    env.finish().await;

    // On an instance whose triggers live 1 ms, the trigger is stale by the time it is used.
    let short = Sandbox::start_with(SandboxOptions {
        trigger_ttl: Duration::from_millis(1),
        ..SandboxOptions::default()
    })
    .await;
    let post = post_buttons(&short, &hook).await;
    let admin = short.login("sysadmin", "Sys@dmin-sample1").await;
    let (status, _) = short
        .call(
            Method::POST,
            &format!(
                "/api/v4/posts/{}/actions/accept",
                post["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stale = hook.last()["trigger_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    short
        .call_err(
            Method::POST,
            "/api/v4/actions/dialogs/open",
            Some("bottoken"),
            Some(dialog(&stale)),
            400,
            "interactive_message.decode_trigger_id.expired",
        )
        .await;
    short.finish().await;
}

#[tokio::test]
async fn a_dialog_submission_reaches_the_integration_with_the_caller() {
    let env = Sandbox::start().await;
    let hook = integration().await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let channel_id = env.sandbox.channel_id("engineering", "admins").unwrap();
    let team_id = env.sandbox.team_id("engineering").unwrap();
    let submit = json!({
        "url": hook.url, "callback_id": "choose", "state": "s1", "channel_id": channel_id,
        "team_id": team_id, "submission": {"team": "marketing"}, "cancelled": false,
        "user_id": "someone-else"
    });
    hook.answer(200, json!({}));
    let (status, body) = env
        .call(
            Method::POST,
            "/api/v4/actions/dialogs/submit",
            Some(&admin),
            Some(submit.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({}));
    let got = hook.last();
    assert_eq!(got["type"], "dialog_submission");
    assert_eq!(got["user_id"], env.id("sysadmin"));
    assert_eq!(got["callback_id"], "choose");
    assert_eq!(got["state"], "s1");
    assert_eq!(got["submission"], json!({"team": "marketing"}));
    assert!(got.get("url").is_none());

    // Field errors come back to the client as the integration gave them (200, as the server).
    hook.answer(200, json!({"errors": {"team": "Pick another team"}}));
    let (status, body) = env
        .call(
            Method::POST,
            "/api/v4/actions/dialogs/submit",
            Some(&admin),
            Some(submit.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"errors": {"team": "Pick another team"}}));

    hook.answer(503, json!({}));
    env.call_err(
        Method::POST,
        "/api/v4/actions/dialogs/submit",
        Some(&admin),
        Some(submit.clone()),
        400,
        "api.post.do_action.action_integration.app_error",
    )
    .await;

    let user = env.login("user-1", "SampleUs@r-1").await;
    let (status, _) = env
        .call(
            Method::POST,
            "/api/v4/actions/dialogs/submit",
            Some(&user),
            Some(submit),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
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
    let spec = support::openapi::Spec::get();
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
async fn teams_are_created_and_single_memberships_read_as_the_server_answers() {
    let env = Sandbox::start().await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let (status, team) = env
        .call(
            Method::POST,
            "/api/v4/teams",
            Some(&admin),
            Some(json!({"name": "review-inbox", "display_name": "Review inbox", "type": "I"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["type"], "I");
    assert_eq!(team["allow_open_invite"], false);
    let team_id = team["id"].as_str().unwrap().to_string();

    let me = env.id("sysadmin");
    let (status, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team_id}/members/{me}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(
        member["scheme_admin"], true,
        "the creator administers the team"
    );

    let other = env.id("sysadmin2");
    env.call_err(
        Method::GET,
        &format!("/api/v4/teams/{team_id}/members/{other}"),
        Some(&admin),
        None,
        404,
        "app.team.get_member.missing.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        "/api/v4/teams",
        Some(&admin),
        Some(json!({"name": "review-inbox", "display_name": "Again", "type": "O"})),
        400,
        "app.team.save.existing.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        "/api/v4/teams",
        Some(&admin),
        Some(json!({"name": "Bad Name!", "display_name": "x", "type": "O"})),
        400,
        "model.team.is_valid.characters.app_error",
    )
    .await;

    // A plain user cannot read memberships of a team it cannot see.
    let user = env.login("user-1", "SampleUs@r-1").await;
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team_id}/members/{me}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
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
