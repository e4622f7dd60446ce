//! Reactions synced across a connection, and a moved shared channel keeping its record.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::sandbox::{assert_error_answer, eventually};
use crate::{arrives, connect, node, share, Node};

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
    assert_error_answer(
        a.admin(
            Method::POST,
            &move_path,
            Some(json!({"team_id": marketing, "force": false})),
        )
        .await,
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
