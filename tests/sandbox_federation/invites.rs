//! Channel invites to a remote: delivered once a pending connection is accepted, refused as the server refuses them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::sandbox::{assert_error_answer, eventually, next_named, socket};
use crate::{connect, node};

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
    assert_error_answer(
        a.admin(Method::POST, &invite(unknown, &channel_id), None)
            .await,
        400,
        "api.context.remote_id_invalid.app_error",
    );
    assert_error_answer(
        a.admin(Method::POST, &invite(&remote_id, unknown), None)
            .await,
        400,
        "api.context.invalid_url_param.app_error",
    );
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
    assert_error_answer(
        a.admin(
            Method::POST,
            &invite(&remote_id, dm["id"].as_str().unwrap()),
            None,
        )
        .await,
        400,
        "api.command_share.share_channel.error",
    );

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
    let ephemeral = next_named(&mut ws, "ephemeral_message").await;
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
    let ephemeral = next_named(&mut ws, "ephemeral_message").await;
    let post: Value = serde_json::from_str(ephemeral["data"]["post"].as_str().unwrap()).unwrap();
    assert_eq!(post["message"], "`Org B` has been added to channel.");

    // The same channel offered again over a second connection between the same servers: its
    // id already exists on the receiver, so that invite fails.
    let second = connect(&a, &b).await;
    assert_ne!(second, remote_id);
    let (status, _) = a.admin(Method::POST, &invite(&second, &ok), None).await;
    assert_eq!(status, StatusCode::OK);
    let ephemeral = next_named(&mut ws, "ephemeral_message").await;
    let post: Value = serde_json::from_str(ephemeral["data"]["post"].as_str().unwrap()).unwrap();
    let text = post["message"].as_str().unwrap();
    assert!(text.contains("channel already exists"), "{text}");
    a.finish().await;
    b.finish().await;
}
