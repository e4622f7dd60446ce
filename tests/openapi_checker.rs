//! The OpenAPI conformance checker catches real mismatches and accepts real server shapes.

mod support;

use serde_json::{json, Value};
use sharebot::sandbox::recorder::{Exchange, Recorder};
use support::openapi::{assert_conforms, Spec, KNOWN_DEVIATIONS};

fn exchange(method: &str, route: &str, status: u16, body: Value) -> Exchange {
    Exchange {
        method: method.into(),
        route: route.into(),
        status,
        body: Some(body),
    }
}

/// A user as the real server returns it from `GET /api/v4/users/{user_id}`.
fn user() -> Value {
    json!({
        "id": "9kgfbxdo1bdx9rbxpnehxkxgwa",
        "create_at": 1_700_000_000_000_i64,
        "update_at": 1_700_000_000_000_i64,
        "delete_at": 0,
        "username": "alice",
        "auth_data": "",
        "auth_service": "",
        "email": "alice@example.com",
        "nickname": "",
        "first_name": "Alice",
        "last_name": "",
        "position": "",
        "roles": "system_user system_admin",
        "props": {},
        "notify_props": {"channel": "true", "desktop": "mention", "email": "true",
                         "first_name": "false", "mention_keys": "", "push": "mention",
                         "desktop_sound": "true"},
        "last_password_update": 1_700_000_000_000_i64,
        "locale": "en",
        "timezone": {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
        "disable_welcome_email": false
    })
}

fn remote_cluster() -> Value {
    json!({
        "remote_id": "7gn4ajz3k3fh9g4ubrqkj4a9cc",
        "remote_team_id": "",
        "name": "beta",
        "display_name": "Beta",
        "site_url": "pending_7gn4ajz3k3fh9g4ubrqkj4a9cc",
        "default_team_id": "b8wsk6u9t3dc8r1i7hoxdgmyjw",
        "create_at": 1_700_000_000_000_i64,
        "delete_at": 0,
        "last_ping_at": 0,
        "last_global_user_sync_at": 0,
        "topics": "",
        "creator_id": "9kgfbxdo1bdx9rbxpnehxkxgwa",
        "plugin_id": "",
        "options": 0
    })
}

fn error_of(result: Result<(), String>) -> String {
    result.expect_err("expected a mismatch")
}

#[test]
fn loading_the_spec_is_fast_enough() {
    let started = std::time::Instant::now();
    let Some(spec) = Spec::get() else {
        return;
    };
    let took = started.elapsed();
    eprintln!("OpenAPI spec parsed in {took:?}");
    assert!(spec.has_route("GET", "/api/v4/users/{user_id}"));
}

#[test]
fn routes_match_by_segment() {
    let Some(spec) = Spec::get() else {
        return;
    };
    assert!(spec.has_route("PATCH", "/api/v4/remotecluster/{remote_id}"));
    assert!(spec.has_route("post", "/api/v4/remotecluster/accept_invite"));
    assert!(!spec.has_route("PUT", "/api/v4/remotecluster/accept_invite"));
    assert!(!spec.has_route("GET", "/api/v4/no_such_thing/{id}"));
    assert!(!spec.has_route("GET", "/api/v4/users/{user_id}/extra/segments/here"));

    // A literal where the spec has a parameter (`/users/me`), noted.
    let me = spec.find_route("GET", "/api/v4/users/me").unwrap();
    assert_eq!(me.spec_path, "/api/v4/users/{user_id}");
    assert!(!me.notes.is_empty());
    // The most literal route wins.
    let accept = spec
        .find_route("POST", "/api/v4/remotecluster/accept_invite")
        .unwrap();
    assert_eq!(accept.spec_path, "/api/v4/remotecluster/accept_invite");
    // Another parameter name in the same place matches, with a note.
    let renamed = spec.find_route("GET", "/api/v4/users/{id}").unwrap();
    assert_eq!(renamed.spec_path, "/api/v4/users/{user_id}");
    assert_eq!(
        renamed.notes,
        vec!["parameter {id} is {user_id} in the spec".to_owned()]
    );
    // A parameter cannot stand where the spec has a literal.
    let by_param = spec.find_route("POST", "/api/v4/remotecluster/{remote_id}");
    assert!(!matches!(by_param, Some(m) if m.spec_path == "/api/v4/remotecluster/accept_invite"));
}

#[test]
fn a_real_user_passes_and_a_wrong_type_fails_with_its_pointer() {
    let Some(spec) = Spec::get() else {
        return;
    };
    spec.validate(&exchange("GET", "/api/v4/users/{user_id}", 200, user()))
        .unwrap();
    spec.validate(&exchange("GET", "/api/v4/users/me", 200, user()))
        .unwrap();

    let mut bad = user();
    bad["create_at"] = json!("1700000000000");
    let err = error_of(spec.validate(&exchange("GET", "/api/v4/users/{user_id}", 200, bad)));
    assert_eq!(err, "/create_at: expected integer, got string");

    let mut bad = user();
    bad["notify_props"]["email"] = json!(true);
    bad["roles"] = Value::Null;
    let err = error_of(spec.validate(&exchange("GET", "/api/v4/users/{user_id}", 200, bad)));
    assert!(
        err.contains("/notify_props/email: expected string, got boolean"),
        "{err}"
    );
    assert!(err.contains("/roles: expected string, got null"), "{err}");

    // A list of users: pointers carry the index.
    let mut second = user();
    second["delete_at"] = json!(1.5);
    let err = error_of(spec.validate(&exchange(
        "GET",
        "/api/v4/users",
        200,
        json!([user(), second]),
    )));
    assert_eq!(err, "/1/delete_at: expected integer, got number");
}

#[test]
fn unknown_routes_and_undocumented_statuses_fail() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let err = error_of(spec.validate(&exchange("GET", "/api/v4/no_such_thing", 200, json!({}))));
    assert!(err.contains("not in the spec"), "{err}");
    let err = error_of(spec.validate(&exchange("GET", "/api/v4/users/{user_id}", 201, user())));
    assert!(err.contains("201"), "{err}");
}

#[test]
fn the_websocket_route_is_documented_in_prose() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let upgrade = Exchange {
        method: "GET".into(),
        route: "/api/v4/websocket".into(),
        status: 101,
        body: None,
    };
    spec.validate(&upgrade).unwrap();
    let refused = json!({"id": "api.web_socket.connect.upgrade.app_error",
                         "message": "Failed to upgrade websocket connection.",
                         "detailed_error": "", "request_id": "x", "status_code": 400});
    spec.validate(&exchange("GET", "/api/v4/websocket", 400, refused))
        .unwrap();
    let err = error_of(spec.validate(&exchange(
        "GET",
        "/api/v4/websocket",
        400,
        json!({"error": 1}),
    )));
    assert!(err.contains("/status_code"), "{err}");
    let err = error_of(spec.validate(&exchange("POST", "/api/v4/websocket", 200, json!({}))));
    assert!(err.contains("not in the spec"), "{err}");
}

#[test]
fn app_errors_pass_and_fake_errors_fail() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let not_found = json!({
        "id": "app.user.missing_account.const",
        "message": "Unable to find the user.",
        "detailed_error": "",
        "request_id": "ze3f5k1pkbgg5ebt3ijbzyq4oc",
        "status_code": 404
    });
    spec.validate(&exchange(
        "GET",
        "/api/v4/users/{user_id}",
        404,
        not_found.clone(),
    ))
    .unwrap();
    // 500 is not declared on this route: the answer must still be an AppError.
    let mut internal = not_found.clone();
    internal["status_code"] = json!(500);
    spec.validate(&exchange("GET", "/api/v4/users/{user_id}", 500, internal))
        .unwrap();
    let err = error_of(spec.validate(&exchange(
        "GET",
        "/api/v4/users/{user_id}",
        500,
        json!({"error": "boom"}),
    )));
    assert!(err.contains("/id"), "{err}");
    let err = error_of(spec.validate(&exchange(
        "GET",
        "/api/v4/users/{user_id}",
        404,
        json!({"id": "x", "message": "m", "status_code": "404"}),
    )));
    assert!(
        err.contains("/status_code: expected integer, got string"),
        "{err}"
    );
}

#[test]
fn remote_cluster_creation_answer_is_checked_deeply() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let body = json!({
        "remote_cluster": remote_cluster(),
        "invite": "eyJhbGciOi…",
        "password": "h7s9d8f7g6"
    });
    spec.validate(&exchange(
        "POST",
        "/api/v4/remotecluster",
        201,
        body.clone(),
    ))
    .unwrap();
    let mut bad = body;
    bad["remote_cluster"]["last_ping_at"] = json!("0");
    let err = error_of(spec.validate(&exchange("POST", "/api/v4/remotecluster", 201, bad)));
    assert_eq!(
        err,
        "/remote_cluster/last_ping_at: expected integer, got string"
    );
}

#[test]
fn only_the_documented_deviations_are_excused() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let route = "/api/v4/remotecluster/{remote_id}/sharedchannelremotes";
    let remote = json!({
        "id": "hq1uqb1a3ibd3c7s5ggt7krpwe", "channel_id": "jzn1cbkdnbbjbe3kizn5yd8j3h",
        "creator_id": "9kgfbxdo1bdx9rbxpnehxkxgwa", "create_at": 1, "update_at": 1, "delete_at": 0,
        "is_invite_accepted": true, "is_invite_confirmed": true,
        "remote_id": "7gn4ajz3k3fh9g4ubrqkj4a9cc", "last_post_update_at": 0, "last_post_id": "",
        "last_post_create_at": 0, "last_post_create_id": ""
    });
    spec.validate(&exchange("GET", route, 200, json!([remote.clone()])))
        .unwrap();
    let mut bad = remote;
    bad["update_at"] = json!("1");
    let err = error_of(spec.validate(&exchange("GET", route, 200, json!([bad]))));
    assert_eq!(err, "/0/update_at: expected integer, got string");
    for (method, route, pointer, reason) in KNOWN_DEVIATIONS {
        assert!(!method.is_empty() && !route.is_empty() && pointer.starts_with(['/', '*']));
        assert!(reason.len() > 40, "every deviation says why");
    }
}

#[test]
fn real_server_nulls_and_string_booleans_in_documented_places_pass() {
    let Some(spec) = Spec::get() else {
        return;
    };
    let team = json!({
        "id": "b8wsk6u9t3dc8r1i7hoxdgmyjw", "create_at": 1, "update_at": 1, "delete_at": 0,
        "display_name": "Alpha", "name": "alpha", "description": "", "email": "",
        "type": "O", "company_name": "", "allowed_domains": "", "invite_id": "x",
        "allow_open_invite": false, "scheme_id": null, "group_constrained": null,
        "policy_id": null, "cloud_limits_archived": false
    });
    spec.validate(&exchange(
        "GET",
        "/api/v4/teams/{team_id}",
        200,
        team.clone(),
    ))
    .unwrap();
    let mut bad = team;
    bad["name"] = Value::Null;
    let err = error_of(spec.validate(&exchange("GET", "/api/v4/teams/{team_id}", 200, bad)));
    assert_eq!(err, "/name: expected string, got null");
}

#[test]
fn assert_conforms_lists_every_failure() {
    if Spec::get().is_none() {
        return;
    }
    let recorder = Recorder::default();
    recorder.push(exchange("GET", "/api/v4/users/{user_id}", 200, user()));
    assert_conforms(&recorder);

    recorder.push(exchange("GET", "/api/v4/nowhere", 200, json!({})));
    let mut bad = user();
    bad["update_at"] = json!("x");
    recorder.push(exchange("GET", "/api/v4/users/{user_id}", 200, bad));
    let panic = std::panic::catch_unwind(|| assert_conforms(&recorder)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("2 answer(s)"), "{message}");
    assert!(
        message.contains("GET /api/v4/nowhere -> 200: route not in the spec"),
        "{message}"
    );
    assert!(
        message.contains("/update_at: expected integer, got string"),
        "{message}"
    );
}

#[tokio::test]
async fn recorded_answers_of_a_router_are_checked_end_to_end() {
    if Spec::get().is_none() {
        return;
    }
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let recorder = Recorder::default();
    let app = axum::Router::new()
        .route(
            "/api/v4/users/{user_id}",
            axum::routing::get(|| async { axum::Json(user()) }),
        )
        .route(
            "/api/v4/remotecluster",
            axum::routing::post(|| async {
                let mut rc = remote_cluster();
                rc["create_at"] = json!("yesterday");
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(json!({"remote_cluster": rc, "invite": "x"})),
                )
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            recorder.clone(),
            sharebot::sandbox::recorder::record,
        ));
    let get = Request::get("/api/v4/users/me")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(get).await.unwrap().status(), 200);
    assert_conforms(&recorder);

    let post = Request::post("/api/v4/remotecluster")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(post).await.unwrap().status(), 201);
    let panic = std::panic::catch_unwind(|| assert_conforms(&recorder)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("POST /api/v4/remotecluster -> 201: /remote_cluster/create_at: expected integer, got string"),
        "{message}"
    );
}

#[test]
fn openapi_keywords_keep_their_openapi_meaning() {
    let spec = Spec::parse(
        r##"
openapi: 3.0.0
paths:
  /api/v4/things/{id}:
    get:
      responses:
        "200":
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Thing"
components:
  schemas:
    Thing:
      type: object
      required: [id]
      additionalProperties: false
      properties:
        id: {type: string}
        count: {type: integer, nullable: true, example: 3}
        kind: {type: string, enum: [a, b], nullable: true}
        parent: {$ref: "#/components/schemas/Thing"}
        shape: {properties: {x: {type: string}}}
"##,
    )
    .unwrap();
    let check = |body: Value| spec.validate(&exchange("GET", "/api/v4/things/{id}", 200, body));
    check(json!({"id": "1", "count": null, "kind": null, "parent": {"id": "2", "count": 4}}))
        .unwrap();
    let err = error_of(check(json!({"count": "x"})));
    assert!(
        err.contains("/count: expected integer, got string"),
        "{err}"
    );
    assert!(err.contains(": missing required property \"id\""), "{err}");
    let err = error_of(check(json!({"id": "1", "extra": 1})));
    assert_eq!(
        err,
        "/extra: property not allowed (additionalProperties: false)"
    );
    let err = error_of(check(json!({"id": "1", "kind": "c"})));
    assert!(err.starts_with("/kind: \"c\" is not one of"), "{err}");
    let err = error_of(check(json!({"id": "1", "shape": null})));
    assert_eq!(err, "/shape: expected a value, got null");
    let err = error_of(check(json!({"id": "1", "parent": {"id": 2}})));
    assert_eq!(err, "/parent/id: expected string, got integer");
}
