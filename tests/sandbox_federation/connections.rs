//! Secure connections: created, accepted, confirmed and pinged; refused accepts; the server-to-server routes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::federation::FederationOptions;
use sharebot::sandbox::{self};

use crate::support::harness;
use crate::support::sandbox::{assert_app_error, assert_error_answer, eventually};
use crate::{connect, node, node_with, Node};

#[tokio::test]
async fn a_connection_is_created_accepted_confirmed_and_pinged() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;

    // Created without a password: the server makes one up and returns it once.
    let (status, created) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "Org-B", "default_team_id": a.team("engineering")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let rc = &created["remote_cluster"];
    assert_eq!(rc["name"], "org-b");
    assert_eq!(rc["display_name"], "Org-B");
    assert!(rc["site_url"].as_str().unwrap().starts_with("pending_"));
    assert_eq!(rc["token"], "");
    assert!(rc.get("remote_token").is_none());
    assert_eq!(rc["creator_id"], a.id("sysadmin").as_str());
    let password = created["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 16);
    let invite = created["invite"].as_str().unwrap().to_string();
    let remote_id = rc["remote_id"].as_str().unwrap().to_string();

    // The code is the server's format: it opens with the password and names this server.
    let opened = sharebot::sandbox::invite_code::decrypt(&invite, &password).unwrap();
    assert_eq!(opened.remote_id, remote_id);
    assert_eq!(opened.site_url, a.sandbox.site_url());
    assert_eq!(opened.version, 3);

    // Refusals on the accepting side, each with the server's error.
    let accept = |invite: &str, password: &str, team: &str| {
        json!({"invite": invite, "name": "org-a", "display_name": "Org A",
            "default_team_id": team, "password": password})
    };
    let inbox = b.team("shared-inbox");
    let path = "/api/v4/remotecluster/accept_invite";
    assert_error_answer(
        b.admin(Method::POST, path, Some(accept(&invite, "wrong", &inbox)))
            .await,
        400,
        "api.remote_cluster.invite_decrypt_error",
    );
    assert_error_answer(
        b.admin(
            Method::POST,
            path,
            Some(accept("not base64!", &password, &inbox)),
        )
        .await,
        400,
        "api.remote_cluster.base64_decode_error",
    );
    let (_, body) = b
        .admin(Method::POST, path, Some(accept(&invite, &password, "")))
        .await;
    assert_app_error(&body, 400, "api.context.invalid_body_param.app_error");
    let (_, body) = b
        .admin(
            Method::POST,
            path,
            Some(accept(&invite, &password, &a.team("engineering"))),
        )
        .await;
    assert_app_error(&body, 400, "api.context.invalid_body_param.app_error");
    let mut bad_name = accept(&invite, &password, &inbox);
    bad_name["name"] = json!("org a!");
    assert_error_answer(
        b.admin(Method::POST, path, Some(bad_name)).await,
        400,
        "model.cluster.is_valid.name.app_error",
    );
    let user = b.login("user-1", "SampleUs@r-1").await;
    b.call_err(
        Method::POST,
        path,
        Some(&user),
        Some(accept(&invite, &password, &inbox)),
        403,
        "api.context.permissions.app_error",
    )
    .await;

    // Accepted: b's record carries a's site URL at once; a's is confirmed by b's call.
    let (status, accepted) = b
        .admin(Method::POST, path, Some(accept(&invite, &password, &inbox)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
    assert_eq!(accepted["remote_id"], remote_id.as_str());
    assert_eq!(accepted["site_url"], a.sandbox.site_url());
    assert_eq!(accepted["default_team_id"], inbox.as_str());
    assert_eq!(accepted["creator_id"], b.id("sysadmin").as_str());
    assert_eq!(accepted["token"], "");
    let rc = a.remote(&remote_id).await;
    assert_eq!(rc["site_url"], b.sandbox.site_url());

    // Both sides ping each other and show the connection online.
    for node in [&a, &b] {
        eventually("a ping answered", || async {
            let rc = node.remote(&remote_id).await;
            (rc["last_ping_at"].as_i64().unwrap() > 0).then_some(())
        })
        .await;
        let (status, list) = node
            .admin(
                Method::GET,
                "/api/v4/remotecluster?exclude_offline=true&only_confirmed=true",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["remote_id"], remote_id.as_str());
    }

    // A confirmed connection gets no new invite code.
    assert_error_answer(
        a.admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/generate_invite"),
            Some(json!({"password": "another-one"})),
        )
        .await,
        400,
        "api.remote_cluster.generate_invite_cluster_is_confirmed",
    );

    // The code was used: its token was replaced at confirmation, so a third server fails to
    // confirm it, and its own record is soft-deleted again.
    let c = node("org-gamma").await;
    let body = assert_error_answer(
        c.admin(
            Method::POST,
            path,
            Some(accept(&invite, &password, &c.team("shared-inbox"))),
        )
        .await,
        500,
        "api.remote_cluster.accept_invitation_error",
    );
    assert!(
        body["detailed_error"]
            .as_str()
            .unwrap()
            .contains("api.context.invalid_token.error"),
        "{body}"
    );
    let (_, list) = c.admin(Method::GET, "/api/v4/remotecluster", None).await;
    assert_eq!(list, json!([]));
    let (_, list) = c
        .admin(
            Method::GET,
            "/api/v4/remotecluster?include_deleted=true",
            None,
        )
        .await;
    assert!(list[0]["delete_at"].as_i64().unwrap() > 0, "{list}");

    // Patch and delete (soft: still readable by id).
    let (status, patched) = a
        .admin(
            Method::PATCH,
            &format!("/api/v4/remotecluster/{remote_id}"),
            Some(json!({"display_name": "Organisation B"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["display_name"], "Organisation B");
    assert_eq!(patched["token"], "");
    let (_, patched) = a
        .admin(
            Method::PATCH,
            &format!("/api/v4/remotecluster/{remote_id}"),
            Some(json!({"default_team_id": a.team("marketing")})),
        )
        .await;
    assert_eq!(patched["default_team_id"], a.team("marketing").as_str());
    assert_eq!(patched["display_name"], "Organisation B");
    let (_, first) = a
        .admin(Method::GET, "/api/v4/remotecluster?page=0&per_page=1", None)
        .await;
    assert_eq!(first.as_array().unwrap().len(), 1);
    let (_, second) = a
        .admin(Method::GET, "/api/v4/remotecluster?page=1&per_page=1", None)
        .await;
    assert_eq!(second, json!([]));
    let (status, body) = a
        .admin(
            Method::DELETE,
            &format!("/api/v4/remotecluster/{remote_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "OK"}));
    assert!(a.remote(&remote_id).await["delete_at"].as_i64().unwrap() > 0);
    let (_, list) = a.admin(Method::GET, "/api/v4/remotecluster", None).await;
    assert_eq!(list, json!([]));
    assert_error_answer(
        a.admin(
            Method::DELETE,
            &format!("/api/v4/remotecluster/{remote_id}"),
            None,
        )
        .await,
        404,
        "api.remote_cluster.get.not_found",
    );

    for node in [a, b, c] {
        node.finish().await;
    }
}

#[tokio::test]
async fn creating_a_connection_needs_a_team_and_a_valid_name() {
    let a = node("org-alpha").await;
    let body = assert_error_answer(
        a.admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "org-b"})),
        )
        .await,
        400,
        "api.context.invalid_body_param.app_error",
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("remote_cluster.default_team_id"));
    // The server saves through its store, whose validation error becomes a 500.
    assert_error_answer(
        a.admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "org b!", "default_team_id": a.team("engineering")})),
        )
        .await,
        500,
        "api.remote_cluster.save.app_error",
    );
    let (status, created) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(
                json!({"name": "org-b", "default_team_id": a.team("engineering"),
                "password": "chosen-Pass1"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(created.get("password").is_none(), "{created}");
    let remote_id = created["remote_cluster"]["remote_id"].as_str().unwrap();
    let (status, code) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/generate_invite"),
            Some(json!({"password": "other-Pass2"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let opened =
        sharebot::sandbox::invite_code::decrypt(code.as_str().unwrap(), "other-Pass2").unwrap();
    assert_eq!(opened.remote_id, remote_id);
    assert_error_answer(
        a.admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/generate_invite"),
            Some(json!({})),
        )
        .await,
        400,
        "api.context.invalid_body_param.app_error",
    );
    assert_error_answer(
        a.admin(
            Method::GET,
            "/api/v4/remotecluster/aaaaaaaaaaaaaaaaaaaaaaaaaa",
            None,
        )
        .await,
        404,
        "api.remote_cluster.get.not_found",
    );
    a.finish().await;
}

#[tokio::test]
async fn an_expired_invite_or_an_unreachable_inviter_fails_the_accept() {
    let expired = node_with(
        "org-alpha",
        FederationOptions {
            invite_expires_after: Duration::ZERO,
            ..harness::quick_federation()
        },
    )
    .await;
    let b = node("org-beta").await;
    let create = |a: &Node| {
        json!({"name": "org-b", "default_team_id": a.team("engineering"),
            "password": "s3cret-Pass"})
    };
    let accept = |invite: &Value| {
        json!({"invite": invite, "name": "org-a", "password": "s3cret-Pass",
            "default_team_id": b.team("shared-inbox")})
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, created) = expired
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(create(&expired)),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let body = assert_error_answer(
        b.admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(accept(&created["invite"])),
        )
        .await,
        500,
        "api.remote_cluster.accept_invitation_error",
    );
    assert!(body["detailed_error"]
        .as_str()
        .unwrap()
        .contains("api.context.invitation_expired.error"));
    let rc = expired
        .remote(created["remote_cluster"]["remote_id"].as_str().unwrap())
        .await;
    assert!(rc["site_url"].as_str().unwrap().starts_with("pending_"));

    // The inviter is gone: the accept fails and says so (and reusing the name for the same
    // connection is then a store conflict, as on the server).
    let gone = node("org-gone").await;
    let (_, created) = gone
        .admin(Method::POST, "/api/v4/remotecluster", Some(create(&gone)))
        .await;
    gone.finish().await;
    let body = assert_error_answer(
        b.admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(accept(&created["invite"])),
        )
        .await,
        500,
        "api.remote_cluster.accept_invitation_error",
    );
    assert!(
        body["detailed_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{body}"
    );
    let (_, list) = b.admin(Method::GET, "/api/v4/remotecluster", None).await;
    assert_eq!(list, json!([]), "the failed accept left no live connection");
    expired.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn server_to_server_calls_need_the_connection_token() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let remote_id = connect(&a, &b).await;
    let ping = |id: &str| {
        json!({"remote_id": id, "msg": {"id": "bbbbbbbbbbbbbbbbbbbbbbbbbb", "topic": "ping",
            "create_at": 1, "payload": {"sent_at": 5}}})
    };
    let url = format!("{}/api/v4/remotecluster/ping", a.sandbox.site_url());
    let send = |id: Option<&str>, token: Option<&str>, body: Value| {
        let mut request = a.http.post(&url).json(&body);
        if let Some(id) = id {
            request = request.header("X-RemoteCluster-Id", id);
        }
        if let Some(token) = token {
            request = request.header("X-RemoteCluster-Token", token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    assert_error_answer(
        send(Some(&remote_id), None, ping(&remote_id)).await,
        401,
        "api.context.session_expired.app_error",
    );
    assert_error_answer(
        send(None, Some("whatever"), ping(&remote_id)).await,
        401,
        "api.context.remote_id_missing.app_error",
    );
    assert_error_answer(
        send(Some(&remote_id), Some("forged"), ping(&remote_id)).await,
        401,
        "api.context.invalid_token.error",
    );
    // A session token is no remote token either.
    a.call_err(
        Method::POST,
        "/api/v4/remotecluster/ping",
        Some(&a.admin),
        Some(ping(&remote_id)),
        401,
        "api.context.session_expired.app_error",
    )
    .await;
    let (status, _) = a
        .call(
            Method::POST,
            "/api/v4/remotecluster/msg",
            None,
            Some(ping(&remote_id)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    a.finish().await;
    b.finish().await;
}

#[test]
fn server_to_server_routes_are_outside_the_client_spec() {
    let Some(spec) = crate::support::openapi::Spec::get() else {
        return;
    };
    for (method, path) in sandbox::server_to_server_routes() {
        assert!(
            !spec.has_route(method, path),
            "{method} {path} is in the client spec: check it there"
        );
    }
}
