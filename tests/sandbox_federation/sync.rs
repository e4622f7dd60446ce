//! Shared channels: offered and received, posts synced both ways, uninvite stopping the sync.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sharebot::sandbox::federation::UNSHARE_MESSAGE;

use crate::support::sandbox::{next_event, next_named, socket};
use crate::{arrives, connect, node, share};

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

    // a's next sync is refused as "channel is no longer shared": a posts that notice, drops
    // its link and, with none left, stops sharing the channel (`handleChannelNotSharedError`).
    a.post(&a.admin, &channel_id, "after the uninvite").await;
    let notice = arrives(&a, &channel_id, UNSHARE_MESSAGE).await;
    assert_eq!(notice["type"], "system_generic");
    let (_, home) = a
        .admin(Method::GET, &format!("/api/v4/channels/{channel_id}"), None)
        .await;
    assert_eq!(home["shared"], false);
    assert!(b
        .posts(&channel_id)
        .await
        .iter()
        .all(|p| p["message"] != "after the uninvite"));
    // Nothing left to uninvite on the home side either.
    let (status, _) = a.admin(Method::POST, &uninvite, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
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
