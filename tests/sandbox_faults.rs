//! Fault injection and Mattermost rate limiting on a tiny API, switched through `/__sandbox/`.

mod support;

use support::harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use sharebot::sandbox::faults::{self, AdminCheck, FaultSettings, Faults};
use sharebot::sandbox::websocket::{Hub, TokenCheck};

struct Sandbox {
    base: String,
    hub: Hub,
    client: reqwest::Client,
}

async fn start() -> Sandbox {
    let check: TokenCheck = Arc::new(|token: &str| match token {
        "admin-token" => Some("adminaaaaaaaaaaaaaaaaaaaaa".to_owned()),
        "user-token" => Some("useruuuuuuuuuuuuuuuuuuuuuu".to_owned()),
        _ => None,
    });
    let hub = Hub::new("10.11.0.0.x.false", check);
    let is_admin: AdminCheck = Arc::new(|token: &str| token == "admin-token");
    let faults = Faults::default();
    let api = Router::new()
        .route(
            "/api/v4/system/ping",
            get(|| async { axum::Json(json!({"status": "OK"})) }),
        )
        .route("/static/app.js", get(|| async { "js" }))
        .merge(hub.router())
        .layer(axum::middleware::from_fn_with_state(
            faults.clone(),
            faults::middleware,
        ));
    let app = api.merge(faults::admin_router(faults, hub.clone(), is_admin));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    Sandbox {
        base: format!("http://{addr}"),
        hub,
        client: reqwest::Client::new(),
    }
}

impl Sandbox {
    async fn ping(&self, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}/api/v4/system/ping", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn set(&self, settings: Value) {
        let (status, body) = harness::call(
            &self.base,
            Method::PUT,
            "/__sandbox/faults",
            Some("admin-token"),
            Some(settings),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn admin_routes_need_an_admin_token() {
    let sandbox = start().await;
    let url = format!("{}/__sandbox/faults", sandbox.base);
    let response = sandbox.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], "api.context.session_expired.app_error");
    assert_eq!(body["status_code"], 401);

    let response = sandbox
        .client
        .post(format!("{}/__sandbox/websocket/drop", sandbox.base))
        .bearer_auth("user-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], "api.context.permissions.app_error");

    let response = sandbox
        .client
        .get(&url)
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let current: FaultSettings = response.json().await.unwrap();
    assert_eq!(current, FaultSettings::default());

    let response = sandbox
        .client
        .put(&url)
        .bearer_auth("admin-token")
        .json(&json!({"latency_ms": 0, "error_rate": 2.0, "rate_limit": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], "api.context.invalid_param.app_error");
}

#[tokio::test]
async fn rate_limiting_answers_like_mattermost() {
    let sandbox = start().await;
    // Off by default: no rate-limit headers.
    let response = sandbox.ping(None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "X-RateLimit-Limit"), None);

    sandbox
        .set(json!({"latency_ms": 0, "error_rate": 0.0,
                    "rate_limit": {"per_sec": 1, "max_burst": 2, "vary_by_user": false}}))
        .await;
    for (remaining, reset) in [("2", "1"), ("1", "2"), ("0", "3")] {
        let response = sandbox.ping(None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "X-RateLimit-Limit").as_deref(), Some("3"));
        assert_eq!(
            header(&response, "X-RateLimit-Remaining").as_deref(),
            Some(remaining)
        );
        assert_eq!(
            header(&response, "X-RateLimit-Reset").as_deref(),
            Some(reset)
        );
        assert_eq!(header(&response, "Retry-After"), None);
    }
    let response = sandbox.ping(Some("user-token")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        header(&response, "X-RateLimit-Remaining").as_deref(),
        Some("0")
    );
    assert_eq!(header(&response, "X-RateLimit-Reset").as_deref(), Some("3"));
    assert_eq!(header(&response, "Retry-After").as_deref(), Some("1"));
    assert!(header(&response, "content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "limit exceeded\n");

    // The admin routes are outside the limiter.
    for _ in 0..5 {
        sandbox
            .set(json!({"latency_ms": 0, "error_rate": 0.0,
                        "rate_limit": {"per_sec": 1, "max_burst": 0, "vary_by_user": true}}))
            .await;
    }
    // Absent fields mean off; keyed by token: one user's exhaustion does not limit another.
    sandbox
        .set(json!({"rate_limit": {"per_sec": 1, "max_burst": 0, "vary_by_user": true}}))
        .await;
    assert_eq!(sandbox.ping(Some("user-token")).await.status(), 200);
    assert_eq!(sandbox.ping(Some("user-token")).await.status(), 429);
    assert_eq!(sandbox.ping(Some("admin-token")).await.status(), 200);

    sandbox
        .set(json!({"latency_ms": 0, "error_rate": 0.0, "rate_limit": null}))
        .await;
    let response = sandbox.ping(Some("user-token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "X-RateLimit-Limit"), None);
}

#[tokio::test]
async fn injected_errors_and_latency_hit_api_routes_only() {
    let sandbox = start().await;
    sandbox
        .set(json!({"latency_ms": 0, "error_rate": 1.0, "rate_limit": null}))
        .await;
    for _ in 0..6 {
        let response = sandbox.ping(None).await;
        let status = response.status().as_u16();
        assert!(status == 500 || status == 503, "{status}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status_code"], status);
        assert!(body["message"].is_string() && body["id"].is_string());
    }
    let response = sandbox
        .client
        .get(format!("{}/static/app.js", sandbox.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    sandbox
        .set(json!({"latency_ms": 200, "error_rate": 0.0, "rate_limit": null}))
        .await;
    let started = Instant::now();
    assert_eq!(sandbox.ping(None).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn websocket_drop_route_closes_every_socket() {
    let sandbox = start().await;
    let ws_url = format!(
        "{}/api/v4/websocket",
        sandbox.base.replacen("http", "ws", 1)
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url)
            .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer user-token".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""));
    assert_eq!(sandbox.hub.live_connections(), 1);

    for route in ["drop", "forget"] {
        let response = sandbox
            .client
            .post(format!("{}/__sandbox/websocket/{route}", sandbox.base))
            .bearer_auth("admin-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"status": "OK"})
        );
    }
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(message)) if message.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "socket not dropped");
    assert_eq!(sandbox.hub.live_connections(), 0);
}

#[tokio::test]
async fn the_configured_rate_limit_has_the_servers_defaults_and_covers_the_websocket() {
    let sandbox = harness::start(sharebot::sandbox::SandboxOptions::default()).await;
    let site = sandbox.site_url().to_owned();
    let token = harness::session(&site, harness::ADMIN, harness::ADMIN_PASSWORD).await;
    let http = reqwest::Client::new();
    let me = || {
        http.get(format!("{site}/api/v4/users/me"))
            .bearer_auth(&token)
            .send()
    };
    // Off by default, as on the server.
    assert_eq!(header(&me().await.unwrap(), "X-RateLimit-Limit"), None);
    let (status, body) = harness::call(
        &site,
        Method::PUT,
        "/api/v4/config/patch",
        Some(&token),
        Some(json!({"RateLimitSettings": {"Enable": true}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // `Limit` is the burst (MaxBurst 100, plus one), `Remaining` what is left of it.
    let response = me().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "X-RateLimit-Limit").as_deref(),
        Some("101")
    );
    assert_eq!(
        header(&response, "X-RateLimit-Remaining").as_deref(),
        Some("100")
    );
    for _ in 0..100 {
        me().await.unwrap();
    }
    // The limiter wraps every route: the WebSocket upgrade is refused as well.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/api/v4/websocket", site.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("Retry-After"));
        }
        other => panic!("the upgrade was not refused: {:?}", other.map(|_| ())),
    }
    assert!(sandbox.faults().rate_limited_answers() >= 1);

    sandbox.shutdown().await;
}
