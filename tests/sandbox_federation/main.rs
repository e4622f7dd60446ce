//! Two (or three) sandbox instances connected as Mattermost servers are: secure connections
//! created, accepted and confirmed over HTTP, pings, shared channels offered and received, and
//! posts synced both ways — driven through the REST API as an admin would.

#[path = "../support/mod.rs"]
mod support;

mod connections;
mod invites;
mod reactions;
mod sync;

use support::harness::{self, Sandbox};
use support::sandbox::eventually;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::federation::FederationOptions;
use sharebot::sandbox::SandboxOptions;

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
