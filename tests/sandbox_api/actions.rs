//! Interactive messages: buttons and selects clicked through to an integration, trigger ids and dialogs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::SandboxOptions;

use crate::support::harness::Sandbox;
use crate::support::sandbox::{assert_app_error, next_named, socket};

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
    let event = next_named(&mut ws_admin, "open_dialog").await;
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

/// An integration's `update` goes through `app.UpdatePost` alone (`app/integration_action.go`):
/// the REST edit time limit does not apply to it, but a post in an archived channel is still
/// refused, and the click fails with that error before any ephemeral text is sent.
#[tokio::test]
async fn an_integration_update_passes_the_edit_time_limit_but_not_an_archived_channel() {
    let env = Sandbox::start().await;
    let hook = integration().await;
    let admin = env.admin_token().await;
    let (status, _) = env
        .call(
            Method::PUT,
            "/api/v4/config/patch",
            Some(&admin),
            Some(json!({"ServiceSettings": {"PostEditTimeLimit": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let post = post_buttons(&env, &hook).await;
    let post_id = post["id"].as_str().unwrap();
    let created = env.sandbox.stored_post(post_id).unwrap().create_at;
    while sharebot::ids::now_ms() <= created + 1000 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hook.answer(
        200,
        json!({"update": {"message": "Accepted"}, "ephemeral_text": "Done."}),
    );
    let click = format!("/api/v4/posts/{post_id}/actions/accept");
    let (status, answer) = env
        .call(Method::POST, &click, Some(&admin), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        env.sandbox.stored_post(post_id).unwrap().message,
        "Accepted"
    );

    let channel_id = env.sandbox.channel_id("engineering", "admins").unwrap();
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/channels/{channel_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    hook.answer(200, json!({"update": {"message": "Rejected"}}));
    env.call_err(
        Method::POST,
        &click,
        Some(&admin),
        Some(json!({})),
        400,
        "api.post.update_post.can_not_update_post_in_deleted.error",
    )
    .await;
    assert_eq!(
        env.sandbox.stored_post(post_id).unwrap().message,
        "Accepted"
    );
    env.finish().await;
}

#[tokio::test]
async fn an_invalid_dialog_is_logged_and_opened_anyway_as_the_server_does() {
    let (logs, _guard) = crate::support::logs::Logs::capture();
    let env = Sandbox::start().await;
    let hook = integration().await;
    let post = post_buttons(&env, &hook).await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let mut ws_admin = socket(env.sandbox.site_url(), &admin).await;
    env.call(
        Method::POST,
        &format!(
            "/api/v4/posts/{}/actions/accept",
            post["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    let trigger = hook.last()["trigger_id"].as_str().unwrap().to_string();
    // A display name over 24 bytes and a select default that is not an option: the server
    // (10.11, `OpenInteractiveDialog`) logs "Interactive dialog is invalid" and opens it.
    let (status, body) = env
        .call(
            Method::POST,
            "/api/v4/actions/dialogs/open",
            Some("bottoken"),
            Some(json!({"trigger_id": trigger, "url": hook.url, "dialog": {
                "callback_id": "c", "title": "Accept", "elements": [
                    {"display_name": "Channels they share with us", "name": "policy", "type": "select",
                     "default": "gone", "options": [{"text": "Review", "value": "review"}]}
                ], "state": "s"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    next_named(&mut ws_admin, "open_dialog").await;
    let text = logs.text();
    assert!(text.contains("interactive dialog is invalid"), "{text}");
    assert!(
        text.contains("display_name is empty or longer than 24"),
        "{text}"
    );
    assert!(text.contains("doesn't exist in options"), "{text}");
    env.finish().await;
}
