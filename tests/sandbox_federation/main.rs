//! Two (or three) sandbox instances connected as Mattermost servers are: secure connections
//! created, accepted and confirmed over HTTP, pings, shared channels offered and received, and
//! posts synced both ways — driven through the REST API as an admin would.

#[path = "../support/mod.rs"]
mod support;

use support::harness::{self, Sandbox};
use support::sandbox::{assert_app_error, eventually, next_event, next_named, socket};

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::federation::{FederationOptions, UNSHARE_MESSAGE};
use sharebot::sandbox::{self, SandboxOptions};

/// One instance, with a system admin's session.
struct Node {
    env: Sandbox,
    admin: String,
}

impl std::ops::Deref for Node {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.env
    }
}

async fn node_with(name: &str, federation: FederationOptions) -> Node {
    let env = Sandbox::start_with(SandboxOptions {
        name: name.into(),
        federation,
        ..SandboxOptions::default()
    })
    .await;
    let admin = env.admin_token().await;
    Node { env, admin }
}

async fn node(name: &str) -> Node {
    node_with(name, harness::quick_federation()).await
}

impl Node {
    /// A call as the node's system admin.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(&self.admin), body).await
    }

    async fn remote(&self, remote_id: &str) -> Value {
        let (status, rc) = self
            .admin(
                Method::GET,
                &format!("/api/v4/remotecluster/{remote_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{rc}");
        rc
    }

    /// The channel's posts, oldest first.
    async fn posts(&self, channel_id: &str) -> Vec<Value> {
        let (status, list) = self
            .admin(
                Method::GET,
                &format!("/api/v4/channels/{channel_id}/posts"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let mut posts: Vec<Value> = list["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| list["posts"][id.as_str().unwrap()].clone())
            .collect();
        posts.reverse();
        posts
    }

    async fn post(&self, token: &str, channel_id: &str, message: &str) -> Value {
        let (status, post) = self
            .call(
                Method::POST,
                "/api/v4/posts",
                Some(token),
                Some(json!({"channel_id": channel_id, "message": message})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{post}");
        post
    }

    async fn create_channel(&self, team: &str, name: &str) -> String {
        let (status, channel) = self
            .admin(
                Method::POST,
                "/api/v4/channels",
                Some(json!({"team_id": self.team(team), "name": name,
                    "display_name": format!("Channel {name}"), "type": "O"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{channel}");
        channel["id"].as_str().unwrap().to_string()
    }

    async fn finish(self) {
        self.env.finish().await;
    }
}

/// A connection created on `a` (display name "Org B") and accepted on `b` (as "org-a", into
/// b's shared-inbox team); returns its id once both sides are confirmed and online.
async fn connect(a: &Node, b: &Node) -> String {
    let (status, created) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "org-b", "display_name": "Org B",
                "default_team_id": a.team("engineering"), "password": "s3cret-Pass"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let remote_id = created["remote_cluster"]["remote_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, accepted) = b
        .admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(json!({"invite": created["invite"], "name": "org-a",
                "default_team_id": b.team("shared-inbox"), "password": "s3cret-Pass"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
    assert_eq!(accepted["remote_id"], remote_id.as_str());
    for node in [a, b] {
        eventually(
            "the connection confirmed and online on both sides",
            || async {
                let rc = node.remote(&remote_id).await;
                let pinged = rc["last_ping_at"].as_i64().unwrap_or(0) > 0;
                let confirmed = !rc["site_url"].as_str().unwrap().starts_with("pending_");
                (pinged && confirmed).then_some(())
            },
        )
        .await;
    }
    remote_id
}

/// Shares a new channel of a's engineering team with the connection; returns its id once b
/// has it.
async fn share(a: &Node, b: &Node, remote_id: &str, name: &str) -> String {
    let channel_id = a.create_channel("engineering", name).await;
    let (status, body) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "OK"}));
    eventually("the channel on the receiving side", || async {
        let (status, _) = b
            .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
            .await;
        (status == StatusCode::OK).then_some(())
    })
    .await;
    channel_id
}

/// Waits for a post with `message` in the channel on `node`.
async fn arrives(node: &Node, channel_id: &str, message: &str) -> Value {
    eventually(&format!("'{message}' to arrive"), || async {
        node.posts(channel_id)
            .await
            .into_iter()
            .find(|p| p["message"] == message)
    })
    .await
}

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
    let (status, body) = b
        .admin(Method::POST, path, Some(accept(&invite, "wrong", &inbox)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.remote_cluster.invite_decrypt_error");
    let (status, body) = b
        .admin(
            Method::POST,
            path,
            Some(accept("not base64!", &password, &inbox)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.remote_cluster.base64_decode_error");
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
    let (status, body) = b.admin(Method::POST, path, Some(bad_name)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "model.cluster.is_valid.name.app_error");
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
    let (status, body) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/generate_invite"),
            Some(json!({"password": "another-one"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(
        &body,
        400,
        "api.remote_cluster.generate_invite_cluster_is_confirmed",
    );

    // The code was used: its token was replaced at confirmation, so a third server fails to
    // confirm it, and its own record is soft-deleted again.
    let c = node("org-gamma").await;
    let (status, body) = c
        .admin(
            Method::POST,
            path,
            Some(accept(&invite, &password, &c.team("shared-inbox"))),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(&body, 500, "api.remote_cluster.accept_invitation_error");
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
    let (status, body) = a
        .admin(
            Method::DELETE,
            &format!("/api/v4/remotecluster/{remote_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_app_error(&body, 404, "api.remote_cluster.get.not_found");

    for node in [a, b, c] {
        node.finish().await;
    }
}

#[tokio::test]
async fn creating_a_connection_needs_a_team_and_a_valid_name() {
    let a = node("org-alpha").await;
    let (status, body) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "org-b"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.context.invalid_body_param.app_error");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("remote_cluster.default_team_id"));
    // The server saves through its store, whose validation error becomes a 500.
    let (status, body) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(json!({"name": "org b!", "default_team_id": a.team("engineering")})),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(&body, 500, "api.remote_cluster.save.app_error");
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
    let (status, body) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/generate_invite"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.context.invalid_body_param.app_error");
    let (status, body) = a
        .admin(
            Method::GET,
            "/api/v4/remotecluster/aaaaaaaaaaaaaaaaaaaaaaaaaa",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_app_error(&body, 404, "api.remote_cluster.get.not_found");
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
    let (status, body) = b
        .admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(accept(&created["invite"])),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(&body, 500, "api.remote_cluster.accept_invitation_error");
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
    let (status, body) = b
        .admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(accept(&created["invite"])),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(&body, 500, "api.remote_cluster.accept_invitation_error");
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
    let (status, body) = send(Some(&remote_id), None, ping(&remote_id)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_app_error(&body, 401, "api.context.session_expired.app_error");
    let (status, body) = send(None, Some("whatever"), ping(&remote_id)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_app_error(&body, 401, "api.context.remote_id_missing.app_error");
    let (status, body) = send(Some(&remote_id), Some("forged"), ping(&remote_id)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_app_error(&body, 401, "api.context.invalid_token.error");
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

#[tokio::test]
async fn a_shared_channel_arrives_with_its_id_and_posts_flow_both_ways() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let remote_id = connect(&a, &b).await;
    let mut creator_socket = socket(b.sandbox.site_url(), &b.admin).await;
    let channel_id = share(&a, &b, &remote_id, "project-x").await;

    // The connection's creator alone is told, by `channel_created` then the join post; no
    // `user_added`.
    let created = next_event(&mut creator_socket).await;
    assert_eq!(created["event"], "channel_created", "{created}");
    assert_eq!(created["data"]["channel_id"], channel_id.as_str());
    assert_eq!(created["data"]["team_id"], b.team("shared-inbox").as_str());
    let joined = next_event(&mut creator_socket).await;
    assert_eq!(joined["event"], "posted", "{joined}");
    let join_post: Value = serde_json::from_str(joined["data"]["post"].as_str().unwrap()).unwrap();
    assert_eq!(join_post["type"], "system_join_channel");

    // Received into the connection's default team, by the connection's creator, same id.
    let (_, channel) = b
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(channel["team_id"], b.team("shared-inbox").as_str());
    assert_eq!(channel["creator_id"], b.id("sysadmin").as_str());
    assert_eq!(channel["name"], "project-x");
    assert_eq!(channel["type"], "O");
    assert_eq!(channel["shared"], true);
    let (_, members) = b
        .admin(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/members"),
            None,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
    assert_eq!(members[0]["user_id"], b.id("sysadmin").as_str());
    assert_eq!(members[0]["scheme_admin"], true);
    let (_, home) = a
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(home["shared"], true);

    // Both sides hold the records.
    let (_, links) = a
        .admin(
            Method::GET,
            &format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes"),
            None,
        )
        .await;
    assert_eq!(links.as_array().unwrap().len(), 1, "{links}");
    assert_eq!(links[0]["channel_id"], channel_id.as_str());
    assert_eq!(links[0]["is_invite_confirmed"], true);
    let (_, homes) = a
        .admin(
            Method::GET,
            &format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes?exclude_home=true"),
            None,
        )
        .await;
    assert_eq!(homes, json!([]));
    let (_, shared) = a
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{}", a.team("engineering")),
            None,
        )
        .await;
    assert_eq!(shared[0]["id"], channel_id.as_str());
    assert_eq!(shared[0]["home"], true);
    let (_, shared) = b
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{}", b.team("shared-inbox")),
            None,
        )
        .await;
    assert_eq!(shared[0]["id"], channel_id.as_str());
    assert_eq!(shared[0]["home"], false);
    assert_eq!(shared[0]["remote_id"], remote_id.as_str());
    let (_, remotes) = a
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{channel_id}/remotes"),
            None,
        )
        .await;
    assert_eq!(remotes[0]["name"], "org-b");
    let (status, info) = b
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/remote_info/{remote_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["display_name"], "org-a");

    // A post on either side appears on the other, by a synced remote user.
    let sent = a.post(&a.admin, &channel_id, "hello from alpha").await;
    let got = arrives(&b, &channel_id, "hello from alpha").await;
    assert_eq!(got["id"], sent["id"]);
    assert_eq!(got["remote_id"], remote_id.as_str());
    let (_, author) = b
        .admin(
            Method::GET,
            &format!("/api/v4/users/{}", got["user_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(author["username"], "sysadmin:org-a");
    assert_eq!(author["remote_id"], remote_id.as_str());
    let (status, _) = b
        .admin(
            Method::GET,
            &format!(
                "/api/v4/channels/{channel_id}/members/{}",
                got["user_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the synced user is a channel member"
    );
    let (status, _) = b
        .admin(
            Method::GET,
            &format!(
                "/api/v4/teams/{}/members/{}",
                b.team("shared-inbox"),
                got["user_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the synced user is a team member");
    let links = format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes");
    let (_, received) = b
        .admin(Method::GET, &format!("{links}?exclude_home=true"), None)
        .await;
    assert_eq!(received[0]["channel_id"], channel_id.as_str());
    let (_, homes) = b
        .admin(Method::GET, &format!("{links}?exclude_remote=true"), None)
        .await;
    assert_eq!(homes, json!([]));
    let (_, unconfirmed) = b
        .admin(
            Method::GET,
            &format!("{links}?exclude_confirmed=true"),
            None,
        )
        .await;
    assert_eq!(unconfirmed, json!([]));
    let (_, linked) = a
        .admin(
            Method::GET,
            &format!("/api/v4/remotecluster?in_channel={channel_id}"),
            None,
        )
        .await;
    assert_eq!(linked[0]["remote_id"], remote_id.as_str());
    let (_, unlinked) = a
        .admin(
            Method::GET,
            &format!("/api/v4/remotecluster?not_in_channel={channel_id}"),
            None,
        )
        .await;
    assert_eq!(unlinked, json!([]));
    let reply = b.post(&b.admin, &channel_id, "hello from beta").await;
    let got = arrives(&a, &channel_id, "hello from beta").await;
    assert_eq!(got["id"], reply["id"]);
    let (_, author) = a
        .admin(
            Method::GET,
            &format!("/api/v4/users/{}", got["user_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(author["username"], "sysadmin:org-b");

    // Edits follow; nothing is echoed back or duplicated.
    let (status, _) = a
        .admin(
            Method::PUT,
            &format!("/api/v4/posts/{}/patch", sent["id"].as_str().unwrap()),
            Some(json!({"message": "hello from alpha (edited)"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    arrives(&b, &channel_id, "hello from alpha (edited)").await;
    for node in [&a, &b] {
        let texts: Vec<String> = node
            .posts(&channel_id)
            .await
            .iter()
            .filter(|p| p["type"] == "")
            .map(|p| p["message"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["hello from alpha (edited)", "hello from beta"]);
    }

    // Inviting again is a no-op.
    let (status, _) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, links) = a
        .admin(
            Method::GET,
            &format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes"),
            None,
        )
        .await;
    assert_eq!(links.as_array().unwrap().len(), 1);

    // A connection without a default team puts received channels in the first team.
    let (status, _) = b
        .admin(
            Method::PATCH,
            &format!("/api/v4/remotecluster/{remote_id}"),
            Some(json!({"default_team_id": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let other = share(&a, &b, &remote_id, "project-w").await;
    let (_, channel) = b
        .admin(Method::GET, &format!("/api/v4/channels/{other}"), None)
        .await;
    assert_eq!(channel["team_id"], b.team("engineering").as_str());
    a.finish().await;
    b.finish().await;
}

/// A post's live reactions on `node`: (user id, emoji, remote id), sorted.
async fn reactions(node: &Node, post_id: &str) -> Vec<(String, String, String)> {
    let (status, list) = node
        .admin(
            Method::GET,
            &format!("/api/v4/posts/{post_id}/reactions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut out: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_string(),
                r["emoji_name"].as_str().unwrap().to_string(),
                r["remote_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn reactions_follow_and_a_moved_shared_channel_keeps_its_record() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let remote_id = connect(&a, &b).await;
    let channel_id = share(&a, &b, &remote_id, "project-z").await;
    let post = a.post(&a.admin, &channel_id, "react to me").await;
    let post_id = post["id"].as_str().unwrap().to_string();
    arrives(&b, &channel_id, "react to me").await;

    // A reaction on b reaches a, by the same user id, marked as b's.
    let b_admin = b.id("sysadmin");
    let (status, _) = b
        .admin(
            Method::POST,
            "/api/v4/reactions",
            Some(json!({"user_id": b_admin, "post_id": post_id, "emoji_name": "thumbsup"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = eventually("b's reaction on a", || async {
        let list = reactions(&a, &post_id).await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(
        got,
        [(b_admin.clone(), "thumbsup".to_string(), remote_id.clone())]
    );
    // And one made on a reaches b.
    let a_admin = a.id("sysadmin");
    let (status, _) = a
        .admin(
            Method::POST,
            "/api/v4/reactions",
            Some(json!({"user_id": a_admin, "post_id": post_id, "emoji_name": "tada"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("a's reaction on b", || async {
        let list = reactions(&b, &post_id).await;
        (list.len() == 2).then_some(())
    })
    .await;
    // Removing it on b removes it on a.
    let (status, _) = b
        .admin(
            Method::DELETE,
            &format!("/api/v4/users/{b_admin}/posts/{post_id}/reactions/thumbsup"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("the removal on a", || async {
        let list = reactions(&a, &post_id).await;
        (list.len() == 1 && list[0].1 == "tada").then_some(())
    })
    .await;

    // Once both sides agree, they stop talking: nothing bounces between them.
    let messages = |node: &Node| {
        node.recorder
            .exchanges()
            .iter()
            .filter(|e| e.route == "/api/v4/remotecluster/msg")
            .count()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = (messages(&a), messages(&b));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (messages(&a), messages(&b)),
        before,
        "sync messages kept flowing"
    );

    // Moving the channel: the synced user is not in the new team, so only a forced move
    // works; the SharedChannel record keeps the old team, and the sharing goes on.
    let marketing = a.team("marketing");
    let move_path = format!("/api/v4/channels/{channel_id}/move");
    let (status, body) = a
        .admin(
            Method::POST,
            &move_path,
            Some(json!({"team_id": marketing, "force": false})),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_app_error(
        &body,
        500,
        "app.channel.move_channel.members_do_not_match.error",
    );
    let (status, moved) = a
        .admin(
            Method::POST,
            &move_path,
            Some(json!({"team_id": marketing, "force": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["team_id"], marketing.as_str());
    let (_, old) = a
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{}", a.team("engineering")),
            None,
        )
        .await;
    assert_eq!(old[0]["id"], channel_id.as_str());
    assert_eq!(old[0]["team_id"], a.team("engineering").as_str());
    let (_, new) = a
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{marketing}"),
            None,
        )
        .await;
    assert_eq!(new, json!([]));
    a.post(&a.admin, &channel_id, "after the move").await;
    arrives(&b, &channel_id, "after the move").await;

    // Archiving on the receiving side archives it there only.
    let (status, _) = b
        .admin(
            Method::DELETE,
            &format!("/api/v4/channels/{channel_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, there) = b
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert!(there["delete_at"].as_i64().unwrap() > 0);
    let (_, home) = a
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(home["delete_at"], 0);
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn uninvite_stops_the_sync_from_either_side() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let remote_id = connect(&a, &b).await;
    let channel_id = share(&a, &b, &remote_id, "project-y").await;
    let uninvite = format!("/api/v4/remotecluster/{remote_id}/channels/{channel_id}/uninvite");

    // The receiving side stops: the channel stays there as a local one, the sender is not told.
    let mut member_socket = socket(b.sandbox.site_url(), &b.admin).await;
    let (status, body) = b.admin(Method::POST, &uninvite, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = next_named(&mut member_socket, "channel_updated").await;
    let channel: Value =
        serde_json::from_str(updated["data"]["channel"].as_str().unwrap()).unwrap();
    assert_eq!(channel["id"], channel_id.as_str());
    assert_eq!(channel["shared"], false);
    let links = format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes");
    let (_, live) = b.admin(Method::GET, &links, None).await;
    assert_eq!(live, json!([]));
    let (_, all) = b
        .admin(Method::GET, &format!("{links}?include_deleted=true"), None)
        .await;
    assert!(all[0]["delete_at"].as_i64().unwrap() > 0, "{all}");
    let (_, channel) = b
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(channel["shared"], false);
    assert_eq!(channel["delete_at"], 0);
    let notice = arrives(&b, &channel_id, UNSHARE_MESSAGE).await;
    assert_eq!(notice["type"], "system_generic");
    let (_, home) = a
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(home["shared"], true);
    let (status, _) = b.admin(Method::POST, &uninvite, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // a still sends, b refuses; a's own posts are kept. The refusal is retried three times
    // (0.2 s, then 0.4 s apart): after two seconds it is over.
    a.post(&a.admin, &channel_id, "after the uninvite").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(b
        .posts(&channel_id)
        .await
        .iter()
        .all(|p| p["message"] != "after the uninvite"));

    // The home side stops too: no link left, so the channel is no longer shared there.
    let (status, _) = a.admin(Method::POST, &uninvite, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, home) = a
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(home["shared"], false);
    arrives(&a, &channel_id, UNSHARE_MESSAGE).await;
    let (_, shared) = a
        .admin(
            Method::GET,
            &format!("/api/v4/sharedchannels/{}", a.team("engineering")),
            None,
        )
        .await;
    assert_eq!(shared, json!([]));
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn an_invite_to_a_pending_connection_is_delivered_once_it_is_accepted() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let (_, created) = a
        .admin(
            Method::POST,
            "/api/v4/remotecluster",
            Some(
                json!({"name": "org-b", "default_team_id": a.team("engineering"),
                "password": "s3cret-Pass"}),
            ),
        )
        .await;
    let remote_id = created["remote_cluster"]["remote_id"]
        .as_str()
        .unwrap()
        .to_string();
    let channel_id = a.create_channel("engineering", "early-bird").await;
    let (status, _) = a
        .admin(
            Method::POST,
            &format!("/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let links = format!("/api/v4/remotecluster/{remote_id}/sharedchannelremotes");
    let (_, confirmed) = a.admin(Method::GET, &links, None).await;
    assert_eq!(confirmed, json!([]));
    let (_, pending) = a
        .admin(
            Method::GET,
            &format!("{links}?include_unconfirmed=true"),
            None,
        )
        .await;
    assert_eq!(pending[0]["is_invite_confirmed"], false, "{pending}");
    let (status, _) = b
        .admin(
            Method::POST,
            "/api/v4/remotecluster/accept_invite",
            Some(json!({"invite": created["invite"], "name": "org-a",
                "password": "s3cret-Pass", "default_team_id": b.team("marketing")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let channel = eventually("the waiting invite delivered", || async {
        let (status, channel) = b
            .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
            .await;
        (status == StatusCode::OK).then_some(channel)
    })
    .await;
    assert_eq!(channel["team_id"], b.team("marketing").as_str());
    let confirmed = eventually("the link confirmed", || async {
        let (_, list) = a.admin(Method::GET, &links, None).await;
        (list.as_array().unwrap().len() == 1).then_some(list)
    })
    .await;
    assert_eq!(confirmed[0]["is_invite_confirmed"], true);
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn invites_are_refused_as_the_server_refuses_them() {
    let a = node("org-alpha").await;
    let b = node("org-beta").await;
    let remote_id = connect(&a, &b).await;
    let channel_id = a.create_channel("engineering", "clash").await;
    let invite = |remote: &str, channel: &str| {
        format!("/api/v4/remotecluster/{remote}/channels/{channel}/invite")
    };
    let unknown = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (status, body) = a
        .admin(Method::POST, &invite(unknown, &channel_id), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.context.remote_id_invalid.app_error");
    let (status, body) = a
        .admin(Method::POST, &invite(&remote_id, unknown), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.context.invalid_url_param.app_error");
    let user = a.login("user-1", "SampleUs@r-1").await;
    a.call_err(
        Method::POST,
        &invite(&remote_id, &channel_id),
        Some(&user),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    let (_, dm) = a
        .admin(
            Method::POST,
            "/api/v4/channels/direct",
            Some(json!([a.id("sysadmin"), a.id("user-1")])),
        )
        .await;
    let (status, body) = a
        .admin(
            Method::POST,
            &invite(&remote_id, dm["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_app_error(&body, 400, "api.command_share.share_channel.error");

    // The name is taken in the receiving team: the call succeeds (the other server answers
    // later), the inviter is told by an ephemeral post, and no link is saved.
    let (status, _) = b
        .admin(
            Method::POST,
            "/api/v4/channels",
            Some(json!({"team_id": b.team("shared-inbox"), "name": "clash",
                "display_name": "Clash", "type": "O"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut ws = socket(a.sandbox.site_url(), &a.admin).await;
    let (status, _) = a
        .admin(Method::POST, &invite(&remote_id, &channel_id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ephemeral = loop {
        let event = next_event(&mut ws).await;
        if event["event"] == "ephemeral_message" {
            break event;
        }
    };
    let post: Value = serde_json::from_str(ephemeral["data"]["post"].as_str().unwrap()).unwrap();
    let text = post["message"].as_str().unwrap();
    assert!(
        text.starts_with("Error sending channel invite for Org B:"),
        "{text}"
    );
    let (_, links) = a
        .admin(
            Method::GET,
            &format!(
                "/api/v4/remotecluster/{remote_id}/sharedchannelremotes?include_unconfirmed=true"
            ),
            None,
        )
        .await;
    assert_eq!(links, json!([]));

    // A shared channel's success message names the connection.
    let ok = a.create_channel("engineering", "no-clash").await;
    let (status, _) = a.admin(Method::POST, &invite(&remote_id, &ok), None).await;
    assert_eq!(status, StatusCode::OK);
    let ephemeral = loop {
        let event = next_event(&mut ws).await;
        if event["event"] == "ephemeral_message" {
            break event;
        }
    };
    let post: Value = serde_json::from_str(ephemeral["data"]["post"].as_str().unwrap()).unwrap();
    assert_eq!(post["message"], "`Org B` has been added to channel.");

    // The same channel offered again over a second connection between the same servers: its
    // id already exists on the receiver, so that invite fails.
    let second = connect(&a, &b).await;
    assert_ne!(second, remote_id);
    let (status, _) = a.admin(Method::POST, &invite(&second, &ok), None).await;
    assert_eq!(status, StatusCode::OK);
    let ephemeral = loop {
        let event = next_event(&mut ws).await;
        if event["event"] == "ephemeral_message" {
            break event;
        }
    };
    let post: Value = serde_json::from_str(ephemeral["data"]["post"].as_str().unwrap()).unwrap();
    let text = post["message"].as_str().unwrap();
    assert!(text.contains("channel already exists"), "{text}");
    a.finish().await;
    b.finish().await;
}

#[test]
fn server_to_server_routes_are_outside_the_client_spec() {
    let spec = support::openapi::Spec::get();
    for (method, path) in sandbox::server_to_server_routes() {
        assert!(
            !spec.has_route(method, path),
            "{method} {path} is in the client spec: check it there"
        );
    }
}
