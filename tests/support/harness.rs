//! The one harness of the tests that drive a sandbox: start one (answers recorded and checked
//! against the official OpenAPI spec at the end), log in as a seeded user, call a route and
//! expect the server's AppError.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::mattermost::{Client, ClientOptions};
use sharebot::sandbox::federation::FederationOptions;
use sharebot::sandbox::recorder::Recorder;
use sharebot::sandbox::{self, RunningSandbox, SandboxOptions};

use super::sandbox::assert_error_answer;

/// The bot's access token unless a test gives another.
pub const BOT_TOKEN: &str = "bottoken";
/// The seeded system admin and its password.
pub const ADMIN: &str = "sysadmin";
pub const ADMIN_PASSWORD: &str = "Sys@dmin-sample1";

/// Federation with a 200 ms ping, so connections come online quickly.
pub fn quick_federation() -> FederationOptions {
    FederationOptions {
        ping_interval: Duration::from_millis(200),
        ..FederationOptions::default()
    }
}

/// Starts a sandbox; the bot's token is [`BOT_TOKEN`] unless `options` gives one.
pub async fn start(options: SandboxOptions) -> RunningSandbox {
    sandbox::start(SandboxOptions {
        bot_token: options.bot_token.clone().or_else(|| Some(BOT_TOKEN.into())),
        ..options
    })
    .await
    .expect("sandbox starts")
}

/// Logs `user` in at `site_url` as a person would; returns the session token (`Token` header).
pub async fn session(site_url: &str, user: &str, password: &str) -> String {
    let (status, headers, body) = request(
        &reqwest::Client::new(),
        site_url,
        Method::POST,
        "/api/v4/users/login",
        None,
        Some(json!({"login_id": user, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login of {user}: {body}");
    headers["Token"].to_str().unwrap().to_string()
}

/// sharebot's own client with `user`'s session.
pub async fn client(site_url: &str, user: &str, password: &str) -> Client {
    let token = session(site_url, user, password).await;
    Client::new(site_url, &token, ClientOptions::default()).unwrap()
}

/// sharebot's own client with the system admin's session.
pub async fn admin_client(site_url: &str) -> Client {
    client(site_url, ADMIN, ADMIN_PASSWORD).await
}

/// One call to the sandbox at `site_url` as the holder of `token`: status and JSON body.
pub async fn call(
    site_url: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, value) =
        request(&reqwest::Client::new(), site_url, method, path, token, body).await;
    (status, value)
}

/// One request: status, headers and the JSON body (`null` when the body is not JSON).
async fn request(
    http: &reqwest::Client,
    site_url: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = http.request(method, format!("{site_url}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// A sandbox whose every answer is recorded; [`Sandbox::finish`] checks them against the spec.
pub struct Sandbox {
    pub sandbox: RunningSandbox,
    pub recorder: Recorder,
    pub http: reqwest::Client,
}

impl Sandbox {
    /// A sandbox with the default seed.
    pub async fn start() -> Sandbox {
        Sandbox::start_with(SandboxOptions::default()).await
    }

    /// A sandbox with these options, recording into `options.recorder` when given (several
    /// instances may share one) or into a new recorder.
    pub async fn start_with(options: SandboxOptions) -> Sandbox {
        let recorder = options.recorder.clone().unwrap_or_default();
        let sandbox = start(SandboxOptions {
            recorder: Some(recorder.clone()),
            ..options
        })
        .await;
        Sandbox {
            sandbox,
            recorder,
            http: reqwest::Client::new(),
        }
    }

    pub fn site_url(&self) -> &str {
        self.sandbox.site_url()
    }

    /// A call as the holder of `token` (none: anonymous): status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self.call_full(method, path, token, body).await;
        (status, value)
    }

    /// [`Sandbox::call`] with the answer's headers.
    pub async fn call_full(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        request(&self.http, self.site_url(), method, path, token, body).await
    }

    /// A call that must fail with the server's AppError of this status and id; returns it.
    pub async fn call_err(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
        id: &str,
    ) -> Value {
        assert_error_answer(self.call(method, path, token, body).await, status, id)
    }

    /// A seeded user's session token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        session(self.site_url(), username, password).await
    }

    /// The system admin's session token.
    pub async fn admin_token(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD).await
    }

    /// A seeded user's id.
    pub fn id(&self, username: &str) -> String {
        self.sandbox.user_id(username).unwrap()
    }

    /// A seeded team's id.
    pub fn team(&self, name: &str) -> String {
        self.sandbox.team_id(name).unwrap()
    }

    /// Checks every recorded answer against the OpenAPI spec, then stops the sandbox.
    pub async fn finish(self) {
        super::openapi::assert_conforms(&self.recorder);
        self.sandbox.shutdown().await;
    }
}
