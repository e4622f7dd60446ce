//! `POST /api/v4/channels/{channel_id}/move` in the sandbox, checked as a client of the real
//! server would see it.

mod support;

use support::sandbox::assert_app_error;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::recorder::Recorder;
use sharebot::sandbox::{self, RunningSandbox, SandboxOptions, Seed};

struct Env {
    sandbox: RunningSandbox,
    recorder: Recorder,
    http: reqwest::Client,
}

async fn env_with(options: SandboxOptions) -> Env {
    let recorder = Recorder::default();
    let sandbox = sandbox::start(SandboxOptions {
        recorder: Some(recorder.clone()),
        bot_token: Some("bottoken".into()),
        ..options
    })
    .await
    .unwrap();
    Env {
        sandbox,
        recorder,
        http: reqwest::Client::new(),
    }
}

async fn env() -> Env {
    env_with(SandboxOptions::default()).await
}

impl Env {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.sandbox.site_url(), path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .http
            .post(format!("{}/api/v4/users/login", self.sandbox.site_url()))
            .json(&json!({"login_id": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.headers()["Token"].to_str().unwrap().to_string()
    }

    async fn admin(&self) -> String {
        self.login("sysadmin", "Sys@dmin-sample1").await
    }

    fn id(&self, username: &str) -> String {
        self.sandbox.user_id(username).unwrap()
    }

    fn team(&self, name: &str) -> String {
        self.sandbox.team_id(name).unwrap()
    }

    /// A public channel created by the token's user in a team.
    async fn channel(&self, token: &str, team: &str, name: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v4/channels",
                Some(token),
                Some(json!({"team_id": self.team(team), "name": name,
                    "display_name": name, "type": "O"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn add(&self, token: &str, channel: &str, username: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v4/channels/{channel}/members"),
                Some(token),
                Some(json!({"user_id": self.id(username)})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn move_to(&self, token: &str, channel: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/api/v4/channels/{channel}/move"),
            Some(token),
            Some(body),
        )
        .await
    }

    async fn is_member(&self, token: &str, channel: &str, username: &str) -> bool {
        let (status, _) = self
            .call(
                Method::GET,
                &format!("/api/v4/channels/{channel}/members/{}", self.id(username)),
                Some(token),
                None,
            )
            .await;
        status == StatusCode::OK
    }

    /// The channel's posts of a type, newest first.
    async fn posts_of_type(&self, token: &str, channel: &str, post_type: &str) -> Vec<Value> {
        let (status, list) = self
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

    async fn finish(self) {
        support::openapi::assert_conforms(&self.recorder);
        self.sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_channel_moves_to_another_team_with_a_system_post() {
    let env = env().await;
    let admin = env.admin().await;
    let channel = env.channel(&admin, "engineering", "move-me").await;
    let marketing = env.team("marketing");

    let (status, body) = env
        .move_to(
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
    let posts = env
        .posts_of_type(&admin, &channel, "system_move_channel")
        .await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0]["message"],
        "This channel has been moved to this team from engineering."
    );
    assert_eq!(posts[0]["user_id"], env.id("sysadmin"));
    assert_eq!(posts[0]["props"]["username"], "sysadmin");

    // Moving it to the team it is already in is a move like any other.
    let (status, body) = env
        .move_to(
            &admin,
            &channel,
            json!({"team_id": marketing, "force": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let posts = env
        .posts_of_type(&admin, &channel, "system_move_channel")
        .await;
    assert_eq!(
        posts[0]["message"],
        "This channel has been moved to this team from marketing."
    );
    env.finish().await;
}

#[tokio::test]
async fn members_outside_the_team_refuse_the_move_unless_forced() {
    let env = env().await;
    let admin = env.admin().await;
    let channel = env.channel(&admin, "engineering", "mixed").await;
    env.add(&admin, &channel, "user-1").await;
    let marketing = env.team("marketing");

    let (status, body) = env
        .move_to(
            &admin,
            &channel,
            json!({"team_id": marketing, "force": false}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(
        &body,
        500,
        "app.channel.move_channel.members_do_not_match.error",
    );
    assert!(env.is_member(&admin, &channel, "user-1").await);

    let (status, body) = env
        .move_to(
            &admin,
            &channel,
            json!({"team_id": marketing, "force": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["team_id"], marketing);
    assert!(!env.is_member(&admin, &channel, "user-1").await);
    assert!(env.is_member(&admin, &channel, "sysadmin").await);
    // The forced removal makes no removal post; only the move is announced.
    assert!(env
        .posts_of_type(&admin, &channel, "system_remove_from_channel")
        .await
        .is_empty());
    assert_eq!(
        env.posts_of_type(&admin, &channel, "system_move_channel")
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
    let env = env_with(SandboxOptions {
        seed,
        ..SandboxOptions::default()
    })
    .await;
    let admin = env.admin().await;
    let channel = env.sandbox.channel_id("engineering", "old-timers").unwrap();
    assert!(env.is_member(&admin, &channel, "gone").await);

    let (status, body) = env
        .move_to(
            &admin,
            &channel,
            json!({"team_id": env.team("marketing"), "force": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!env.is_member(&admin, &channel, "gone").await);
    env.finish().await;
}

#[tokio::test]
async fn bad_bodies_unknown_teams_and_channels_are_refused_in_the_servers_order() {
    let env = env().await;
    let admin = env.admin().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let channel = env.channel(&admin, "engineering", "stays").await;
    let marketing = env.team("marketing");

    for (body, param) in [
        (json!({"force": false}), "team_id"),
        (json!({"team_id": 7, "force": false}), "team_id"),
        (json!({"team_id": marketing}), "force"),
        (json!({"team_id": marketing, "force": "true"}), "force"),
    ] {
        let (status, answer) = env.move_to(&admin, &channel, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_app_error(&answer, 400, "api.context.invalid_body_param.app_error");
        assert!(
            answer["message"].as_str().unwrap().contains(param),
            "{answer}"
        );
    }

    let (status, answer) = env
        .move_to(
            &admin,
            &channel,
            json!({"team_id": "abcdefghijklmnopqrstuvwxyz", "force": false}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_app_error(&answer, 404, "app.team.get.find.app_error");

    // An unknown channel is reported before the body is read, even to a non-admin.
    let (status, answer) = env
        .move_to(&user, "abcdefghijklmnopqrstuvwxyz", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_app_error(&answer, 404, "app.channel.get.existing.app_error");

    // The body is read before the permission check.
    let (status, answer) = env.move_to(&user, &channel, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&answer, 400, "api.context.invalid_body_param.app_error");

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
    let env = env().await;
    let admin = env.admin().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let engineering = env.team("engineering");
    let marketing = env.team("marketing");

    let own = env.channel(&user, "engineering", "users-own").await;
    let (status, body) = env
        .move_to(&user, &own, json!({"team_id": engineering, "force": false}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_app_error(&body, 403, "api.context.permissions.app_error");

    let (status, dm) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some(&admin),
            Some(json!([env.id("sysadmin"), env.id("user-1")])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dm}");
    let (status, body) = env
        .move_to(
            &admin,
            dm["id"].as_str().unwrap(),
            json!({"team_id": marketing, "force": false}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_app_error(&body, 403, "api.channel.move_channel.type.invalid");

    let here = env.channel(&admin, "engineering", "clash").await;
    env.channel(&admin, "marketing", "clash").await;
    let (status, body) = env
        .move_to(&admin, &here, json!({"team_id": marketing, "force": false}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(
        &body,
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
    assert!(env
        .posts_of_type(&admin, &here, "system_move_channel")
        .await
        .is_empty());
    env.finish().await;
}
