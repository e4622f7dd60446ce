//! REST client against small in-process mock servers: retries, the shared 429 gate, typed
//! errors, timeouts, fan-out bound, paging and escaping.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use sharebot::mattermost::models::{Post, RemoteClusterFilter};
use sharebot::mattermost::{ApiObserver, Backoff, Client, ClientOptions, Error};
use tokio::time::Instant;

/// One request as the mock saw it.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    method: Method,
    path: String,
    query: String,
    auth: String,
    body: Bytes,
}

type Script = dyn Fn(usize, &Seen) -> Response + Send + Sync;

#[derive(Clone)]
struct Mock {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Script>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    delay: Duration,
}

impl Mock {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for_requests(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.seen.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "mock never saw {n} requests");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn handle(
    State(mock): State<Mock>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        at: Instant::now(),
        method,
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body,
    };
    let n = {
        let mut all = mock.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if !mock.delay.is_zero() {
        tokio::time::sleep(mock.delay).await;
    }
    mock.in_flight.fetch_sub(1, Ordering::SeqCst);
    (mock.script)(n, &seen)
}

/// Starts a mock on 127.0.0.1:0 answering with `script(index_of_request, request)`.
async fn mock(
    delay: Duration,
    script: impl Fn(usize, &Seen) -> Response + Send + Sync + 'static,
) -> (Mock, String) {
    let mock = Mock {
        seen: Arc::default(),
        script: Arc::new(script),
        in_flight: Arc::default(),
        max_in_flight: Arc::default(),
        delay,
    };
    let app = Router::new().fallback(handle).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (mock, format!("http://{addr}"))
}

fn fast_options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        max_retries: 4,
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        },
        max_rate_limit_wait: Duration::from_secs(10),
        max_concurrent_requests: 8,
        observer: None,
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn user(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "roles": "system_user system_admin"})
}

fn rate_limited(header: &'static str, seconds: &'static str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header, seconds), ("X-RateLimit-Limit", "10")],
        "limit exceeded\n",
    )
        .into_response()
}

#[tokio::test]
async fn rate_limit_is_waited_out_by_every_caller() {
    let (mock, base) = mock(Duration::ZERO, |n, seen| {
        if n == 0 {
            rate_limited("Retry-After", "1")
        } else if seen.path == "/api/v4/users/me" {
            json_response(StatusCode::OK, user("me1"))
        } else {
            json_response(StatusCode::OK, json!({"id": "t1", "name": "eng"}))
        }
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();

    let first = tokio::spawn({
        let client = client.clone();
        async move { client.me().await }
    });
    mock.wait_for_requests(1).await;
    // A second task starts while the server is limiting: it must not send before the reset.
    let second = client.get_team("t1").await.unwrap();
    let me = first.await.unwrap().unwrap();

    assert_eq!(me.id, "me1");
    assert_eq!(second.name, "eng");
    let seen = mock.seen();
    assert_eq!(seen.len(), 3, "one 429, then each call once: {seen:?}");
    let limited_at = seen[0].at;
    for later in &seen[1..] {
        assert!(
            later.at.duration_since(limited_at) >= Duration::from_millis(950),
            "{} sent {:?} after the 429",
            later.path,
            later.at.duration_since(limited_at)
        );
    }
}

#[tokio::test]
async fn rate_limit_reset_header_is_used_without_retry_after() {
    let (mock, base) = mock(Duration::ZERO, |n, _| {
        if n == 0 {
            rate_limited("X-RateLimit-Reset", "1")
        } else {
            json_response(
                StatusCode::CREATED,
                json!({"id": "p1", "channel_id": "c1", "message": "hi"}),
            )
        }
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();
    let post = Post {
        channel_id: "c1".into(),
        message: "hi".into(),
        ..Default::default()
    };
    // Even a non-idempotent create is retried after a 429: the limiter refused it unprocessed.
    let created = client.create_post(&post).await.unwrap();
    assert_eq!(created.id, "p1");
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(950));
}

#[tokio::test]
async fn rate_limit_longer_than_allowed_is_surfaced() {
    let (mock, base) = mock(Duration::ZERO, |_, _| rate_limited("Retry-After", "3600")).await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();
    let started = Instant::now();
    let err = client.me().await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(mock.seen().len(), 1);
}

#[tokio::test]
async fn server_errors_on_reads_are_retried_until_success() {
    let (mock, base) = mock(Duration::ZERO, |n, _| {
        if n < 3 {
            (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response()
        } else {
            json_response(
                StatusCode::OK,
                json!({"id": "c1", "team_id": "t1", "type": "O", "name": "town"}),
            )
        }
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();
    let channel = client.get_channel("c1").await.unwrap();
    assert_eq!(channel.name, "town");
    assert_eq!(mock.seen().len(), 4);
}

#[tokio::test]
async fn retries_stop_at_the_limit() {
    let (mock, base) = mock(Duration::ZERO, |_, _| {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"id": "x", "message": "down"}),
        )
    })
    .await;
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            max_retries: 2,
            ..fast_options()
        },
    )
    .unwrap();
    let err = client.get_channel("c1").await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test]
async fn server_error_on_create_post_is_not_retried() {
    let (mock, base) = mock(Duration::ZERO, |_, _| {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"id": "app.post.save.app_error", "message": "Unable to save the post.", "status_code": 500}),
        )
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();
    let post = Post {
        channel_id: "c1".into(),
        message: "hello".into(),
        ..Default::default()
    };
    let err = client.create_post(&post).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.app_error_id(), Some("app.post.save.app_error"));
    tokio::time::sleep(Duration::from_millis(50)).await; // a wrongly scheduled retry would land here
    let seen = mock.seen();
    assert_eq!(seen.len(), 1, "exactly one attempt: {seen:?}");
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["channel_id"], "c1");
    assert_eq!(body["message"], "hello");
    assert!(body.get("id").is_none());
}

#[tokio::test]
async fn app_errors_are_decoded() {
    let (_mock, base) = mock(Duration::ZERO, |_, _| {
        json_response(
            StatusCode::FORBIDDEN,
            json!({
                "id": "api.context.permissions.app_error",
                "message": "You do not have the appropriate permissions.",
                "detailed_error": "",
                "request_id": "req123",
                "status_code": 403
            }),
        )
    })
    .await;
    let client = Client::new(&base, "sekrit", fast_options()).unwrap();
    let err = client.move_channel("c1", "t2", false).await.unwrap_err();
    match &err {
        Error::Api {
            status,
            id,
            message,
            request_id,
            route,
            ..
        } => {
            assert_eq!(*status, 403);
            assert_eq!(id, "api.context.permissions.app_error");
            assert_eq!(message, "You do not have the appropriate permissions.");
            assert_eq!(request_id, "req123");
            assert_eq!(*route, "/api/v4/channels/{channel_id}/move");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.user_message().contains("appropriate permissions"));
    assert!(!format!("{err:?} {err}").contains("sekrit"));
}

#[tokio::test]
async fn timeout_is_honoured() {
    let (mock, base) = mock(Duration::from_secs(3), |_, _| {
        json_response(StatusCode::OK, user("u1"))
    })
    .await;
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            request_timeout: Duration::from_millis(200),
            max_retries: 1,
            ..fast_options()
        },
    )
    .unwrap();
    let started = Instant::now();
    let err = client.get_user("u1").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.seen().len(), 2, "one retry of an idempotent read");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&format!("http://{addr}"), "tok", fast_options()).unwrap();
    let err = client.me().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_temporary());
}

#[tokio::test]
async fn fan_out_is_bounded() {
    let (mock, base) = mock(Duration::from_millis(50), |_, seen| {
        let id = seen.path.rsplit('/').next().unwrap_or_default().to_owned();
        json_response(StatusCode::OK, user(&id))
    })
    .await;
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            max_concurrent_requests: 2,
            ..fast_options()
        },
    )
    .unwrap();
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.get_user(&format!("u{i}")).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap().id, format!("u{i}"));
    }
    let max = mock.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} requests in flight at once");
}

#[tokio::test]
async fn system_admins_are_read_page_by_page() {
    let (mock, base) = mock(Duration::ZERO, |_, seen| {
        let page: usize = seen
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(99);
        let count = if page == 0 {
            200
        } else if page == 1 {
            5
        } else {
            0
        };
        let users: Vec<Value> = (0..count).map(|i| user(&format!("p{page}u{i}"))).collect();
        json_response(StatusCode::OK, Value::Array(users))
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();
    let admins = client.list_system_admins().await.unwrap();
    assert_eq!(admins.len(), 205);
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/api/v4/users");
    assert_eq!(
        seen[0].query,
        "role=system_admin&active=true&per_page=200&page=0"
    );
    assert_eq!(
        seen[1].query,
        "role=system_admin&active=true&per_page=200&page=1"
    );
    assert_eq!(seen[0].auth, "Bearer tok");
}

#[tokio::test]
async fn paths_bodies_and_queries_match_the_api() {
    let (mock, base) = mock(Duration::ZERO, |_, seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/api/v4/channels/direct") => json_response(StatusCode::CREATED, json!({"id": "dm1", "type": "D"})),
        ("POST", p) if p.ends_with("/uninvite") => StatusCode::NO_CONTENT.into_response(),
        ("POST", p) if p.ends_with("/invite") => json_response(StatusCode::OK, json!({"status": "OK"})),
        ("DELETE", _) => StatusCode::NO_CONTENT.into_response(),
        ("POST", p) if p.ends_with("/generate_invite") => json_response(StatusCode::CREATED, json!("CODE")),
        ("GET", "/api/v4/remotecluster") => json_response(StatusCode::OK, json!([{"remote_id": "r1", "name": "orgb"}])),
        ("GET", p) if p.starts_with("/api/v4/teams/name/") => json_response(StatusCode::OK, json!({"id": "c9", "name": "x"})),
        _ => json_response(StatusCode::NOT_FOUND, json!({"id": "api.context.404.app_error", "message": "Sorry, we could not find the page."})),
    })
    .await;
    let client = Client::new(&base, "tok", fast_options()).unwrap();

    assert_eq!(
        client.create_direct_channel("ua", "ub").await.unwrap().id,
        "dm1"
    );
    assert!(!client
        .uninvite_remote_from_channel("r1", "c1")
        .await
        .unwrap());
    client.invite_remote_to_channel("r1", "c1").await.unwrap();
    client.delete_remote_cluster("r1").await.unwrap();
    assert_eq!(client.generate_invite("r1", "pw").await.unwrap(), "CODE");
    let filter = RemoteClusterFilter {
        only_confirmed: true,
        in_channel: Some("c1".into()),
        ..Default::default()
    };
    assert_eq!(
        client.list_remote_clusters(&filter).await.unwrap()[0].name,
        "orgb"
    );
    client
        .channel_by_name("my team", "off topic/x")
        .await
        .unwrap();
    let err = client.get_remote_cluster("r404").await.unwrap_err();
    assert!(err.is_not_found());

    // Invalid ids never reach the server.
    let before = mock.seen().len();
    assert!(matches!(
        client.get_user("../../admin").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        client.add_channel_member("c1", "bad id").await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(mock.seen().len(), before);

    let seen = mock.seen();
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body, json!(["ua", "ub"]));
    assert_eq!(
        seen[1].path,
        "/api/v4/remotecluster/r1/channels/c1/uninvite"
    );
    assert_eq!(seen[2].path, "/api/v4/remotecluster/r1/channels/c1/invite");
    assert_eq!(seen[3].method, Method::DELETE);
    assert_eq!(seen[3].path, "/api/v4/remotecluster/r1");
    let body: Value = serde_json::from_slice(&seen[4].body).unwrap();
    assert_eq!(body, json!({"password": "pw"}));
    assert_eq!(
        seen[5].query,
        "page=0&per_page=200&in_channel=c1&only_confirmed=true"
    );
    assert_eq!(
        seen[6].path,
        "/api/v4/teams/name/my%20team/channels/name/off%20topic%2Fx"
    );
}

/// Counts observations by route template.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String, Option<u16>)>>);

impl ApiObserver for Recorder {
    fn api_call(&self, method: &str, route: &str, status: Option<u16>, _elapsed: Duration) {
        self.0
            .lock()
            .unwrap()
            .push((method.to_owned(), route.to_owned(), status));
    }
}

#[tokio::test]
async fn observer_sees_every_attempt_by_route_template() {
    let (_mock, base) = mock(Duration::ZERO, |n, _| {
        if n == 0 {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            json_response(StatusCode::OK, json!({"id": "p1", "message": "m"}))
        }
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            observer: Some(recorder.clone()),
            ..fast_options()
        },
    )
    .unwrap();
    client.get_post("p1").await.unwrap();
    let calls = recorder.0.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            ("GET".into(), "/api/v4/posts/{post_id}".into(), Some(503)),
            ("GET".into(), "/api/v4/posts/{post_id}".into(), Some(200)),
        ]
    );
}

/// Both team-by-name routes label the team's name `{team_name}`, as the server's router names
/// it for every route under `/teams/name/` (`server/channels/api4/api.go`, `TeamByName`), so
/// the metrics group the calls under one naming although the spec says `{name}` for one of them.
#[tokio::test]
async fn team_by_name_routes_label_the_parameter_team_name() {
    let (_mock, base) = mock(Duration::ZERO, |_, _| {
        json_response(StatusCode::OK, json!({"id": "t1", "name": "eng"}))
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            observer: Some(recorder.clone()),
            ..fast_options()
        },
    )
    .unwrap();
    let _ = client.team_by_name("eng").await;
    let _ = client.channel_by_name("eng", "town").await;
    let routes: Vec<String> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.1.clone())
        .collect();
    assert_eq!(
        routes,
        vec![
            "/api/v4/teams/name/{team_name}".to_string(),
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}".to_string(),
        ]
    );
}

/// A path with every `{parameter}` segment written `{}`.
fn unnamed_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The spec's path item for `route`, a parameter segment matching a parameter segment whatever
/// its name: the spec names one segment two ways (`/teams/name/{name}` beside
/// `/teams/name/{team_name}/channels/…`) where the server's router says `{team_name}` for both
/// (`server/channels/api4/api.go`, `TeamByName`), and the bot's labels follow the router.
fn spec_path<'a>(spec: &'a Value, route: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    let wanted = unnamed_parameters(route);
    spec["paths"]
        .as_object()
        .and_then(|paths| {
            paths
                .iter()
                .find(|(path, _)| unnamed_parameters(path) == wanted)
                .map(|(_, item)| item)
        })
        .unwrap_or(&NULL)
}

#[test]
fn spec_paths_match_whatever_their_parameters_are_called() {
    let spec = json!({"paths": {
        "/api/v4/teams/name/{name}": {"get": {}},
        "/api/v4/teams/{team_id}": {"get": {}},
    }});
    assert!(spec_path(&spec, "/api/v4/teams/name/{team_name}")["get"].is_object());
    assert!(spec_path(&spec, "/api/v4/teams/{id}")["get"].is_object());
    assert!(spec_path(&spec, "/api/v4/teams/name/eng").is_null());
    assert!(spec_path(&spec, "/api/v4/teams/name/{team_name}/exists").is_null());
}

/// Query parameter names the spec declares for an operation (path-level ones included).
fn spec_query_params(path_item: &Value, method: &str) -> Vec<String> {
    let mut names = Vec::new();
    for params in [&path_item["parameters"], &path_item[method]["parameters"]] {
        if let Some(list) = params.as_array() {
            for p in list {
                if p["in"].as_str() == Some("query") {
                    names.push(p["name"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    names
}

#[tokio::test]
async fn every_endpoint_uses_a_route_method_and_query_of_the_official_spec() {
    use sharebot::mattermost::models::{
        AcceptInvite, NewChannel, NewRemoteCluster, OpenDialogRequest, PostPatch,
        RemoteClusterPatch, SharedChannelRemoteFilter,
    };
    use sharebot::mattermost::ChannelPostsQuery;

    let (mock, base) = mock(Duration::ZERO, |_, _| {
        json_response(StatusCode::OK, json!({}))
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let client = Client::new(
        &base,
        "tok",
        ClientOptions {
            observer: Some(recorder.clone()),
            ..fast_options()
        },
    )
    .unwrap();
    let post = Post {
        id: "p1".into(),
        channel_id: "c1".into(),
        message: "m".into(),
        ..Default::default()
    };
    // Answers are `{}`, so list endpoints fail to decode: only the requests matter here.
    let _ = client.me().await;
    let _ = client.get_user("u1").await;
    let _ = client.users_by_ids(&["u1".into()]).await;
    let _ = client.user_by_username("alice").await;
    let _ = client.list_system_admins().await;
    let _ = client.teams().await;
    let _ = client.team_by_name("eng").await;
    let _ = client.get_team("t1").await;
    let _ = client.add_team_member("t1", "u1").await;
    let _ = client.get_channel("c1").await;
    let _ = client.my_channels().await;
    let _ = client.channel_by_name("eng", "town").await;
    let new_channel = NewChannel {
        team_id: "t1".into(),
        name: "n".into(),
        display_name: "N".into(),
        channel_type: "O".into(),
        ..Default::default()
    };
    let _ = client.create_channel(&new_channel).await;
    let _ = client.create_direct_channel("u1", "u2").await;
    let _ = client.add_channel_member("c1", "u1").await;
    let _ = client.channel_members("c1").await;
    let _ = client.archive_channel("c1").await;
    let _ = client.move_channel("c1", "t2", true).await;
    let _ = client.create_post(&post).await;
    let _ = client.get_post("p1").await;
    let _ = client.patch_post("p1", &PostPatch::default()).await;
    let _ = client.update_post(&post).await;
    let _ = client.create_ephemeral_post("u1", &post).await;
    let query = ChannelPostsQuery {
        since: Some(1),
        page: Some(0),
        per_page: Some(10),
    };
    let _ = client.channel_posts("c1", &query).await;
    let dialog = OpenDialogRequest {
        trigger_id: "trig".into(),
        url: "http://bot/dialog".into(),
        ..Default::default()
    };
    let _ = client.open_dialog(&dialog).await;
    let filter = RemoteClusterFilter {
        exclude_offline: true,
        in_channel: Some("c1".into()),
        not_in_channel: Some("c2".into()),
        only_confirmed: true,
        only_plugins: true,
        exclude_plugins: true,
        include_deleted: true,
        ..Default::default()
    };
    let _ = client.list_remote_clusters(&filter).await;
    let new_remote = NewRemoteCluster {
        name: "orgb".into(),
        default_team_id: "t1".into(),
        ..Default::default()
    };
    let _ = client.create_remote_cluster(&new_remote).await;
    let _ = client.get_remote_cluster("r1").await;
    let _ = client
        .patch_remote_cluster("r1", &RemoteClusterPatch::default())
        .await;
    let _ = client.delete_remote_cluster("r1").await;
    let _ = client.generate_invite("r1", "pw").await;
    let accept = AcceptInvite {
        invite: "i".into(),
        name: "orga".into(),
        default_team_id: "t1".into(),
        password: "pw".into(),
        ..Default::default()
    };
    let _ = client.accept_invite(&accept).await;
    let _ = client.invite_remote_to_channel("r1", "c1").await;
    let _ = client.uninvite_remote_from_channel("r1", "c1").await;
    let scr_filter = SharedChannelRemoteFilter {
        include_unconfirmed: true,
        exclude_confirmed: true,
        exclude_home: true,
        exclude_remote: true,
        include_deleted: true,
        ..Default::default()
    };
    let _ = client.shared_channel_remotes("r1", &scr_filter).await;
    let _ = client.shared_channels_for_team("t1").await;
    let _ = client.remote_info("r1").await;
    let _ = client.channel_remotes("c1").await;

    let calls = recorder.0.lock().unwrap().clone();
    let seen = mock.seen();
    assert_eq!(calls.len(), seen.len());
    assert_eq!(calls.len(), 38, "one request per endpoint");
    let Some(spec) = support::openapi::Spec::get() else {
        return;
    };
    let spec = spec.doc();
    for ((method, route, _), request) in calls.iter().zip(&seen) {
        // The spec documents `me` as the literal value of `{user_id}`.
        let route = if route == "/api/v4/users/me" {
            "/api/v4/users/{user_id}"
        } else {
            route.as_str()
        };
        let path_item = spec_path(spec, route);
        let method = method.to_lowercase();
        assert!(
            path_item[method.as_str()].is_object(),
            "{method} {route} is not in the official spec"
        );
        // Every field the spec marks required in the request body is sent.
        let mut schema =
            &path_item[method.as_str()]["requestBody"]["content"]["application/json"]["schema"];
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            schema = &spec["components"]["schemas"][name];
        }
        if let Some(required) = schema["required"].as_array() {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            for field in required.iter().filter_map(|f| f.as_str()) {
                assert!(
                    body.get(field).is_some(),
                    "{method} {route}: body lacks required {field}: {body}"
                );
            }
        }
        let allowed = spec_query_params(path_item, &method);
        for pair in request.query.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split('=').next().unwrap_or_default();
            assert!(
                allowed.iter().any(|a| a == name),
                "{method} {route}: query parameter {name} is not in the spec ({allowed:?})"
            );
        }
    }
}
