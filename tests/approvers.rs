//! Who decides and what the other side is told: a reject with a reason reaches the sending
//! organization in the channel and every admin's copy, named by our site name; approvers by
//! role (the Shared Channel Manager) and team admins for their own team.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use sharebot::mattermost::models::Post;
use sharebot::mattermost::{ChannelPostsQuery, Client};
use sharebot::store::RequestState;
use support::sandbox::{next_named, socket};
use support::world::*;

/// The posts of a channel as `client` sees them, oldest first.
async fn posts_of(client: &Client, channel: &str) -> Vec<Post> {
    let list = client
        .channel_posts(channel, &ChannelPostsQuery::default())
        .await
        .unwrap();
    list.ordered().into_iter().cloned().collect()
}

/// Sets Org B's site name as an admin would in the System Console.
async fn name_org_b(world: &World, name: &str) {
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, body) = support::harness::call(
        world.b.site_url(),
        Method::PUT,
        "/api/v4/config/patch",
        Some(&token),
        Some(json!({"TeamSettings": {"SiteName": name}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Clicks `action` on `post` and returns the dialog the server then opened for `admin`.
async fn open_dialog(world: &World, admin: &Admin, post: &Post, action: &str) -> Value {
    let mut ws = socket(world.b.site_url(), &admin.token).await;
    let (status, answer) = admin.click(&post.id, action, None).await;
    assert_eq!(status, 200, "{answer}");
    let event = next_named(&mut ws, "open_dialog").await;
    serde_json::from_str(event["data"]["dialog"].as_str().unwrap()).unwrap()
}

/// Submits `submission` to an opened dialog as `admin`.
async fn submit(
    world: &World,
    admin: &Admin,
    post: &Post,
    opened: &Value,
    submission: Value,
) -> (u16, Value) {
    let dialog = &opened["dialog"];
    let team = world.b.team_id("engineering").unwrap();
    admin
        .submit_dialog(&json!({
            "url": opened["url"], "callback_id": dialog["callback_id"], "state": dialog["state"],
            "channel_id": post.channel_id, "team_id": team, "submission": submission,
            "cancelled": false,
        }))
        .await
}

#[tokio::test]
async fn a_reject_with_a_reason_reaches_the_sending_side_and_every_copy() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    name_org_b(&world, "Org B").await;
    let channel = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Budget").await;
    assert!(action_ids(&p1).contains(&"rejectreason".to_string()));
    let opened = open_dialog(&world, &one, &p1, "rejectreason").await;
    let reason_field = &opened["dialog"]["elements"][0];
    assert_eq!(reason_field["name"], "reason");
    assert_eq!(reason_field["max_length"], 500);
    // No reason, or one over 500 characters (the server does not hold the web app's
    // max_length to a submission), is the field's error; nothing is decided.
    let (status, body) = submit(&world, &one, &p1, &opened, json!({"reason": "  "})).await;
    assert_eq!(status, 200);
    assert!(body["errors"]["reason"].is_string(), "{body}");
    let (_, body) = submit(
        &world,
        &one,
        &p1,
        &opened,
        json!({"reason": "x".repeat(501)}),
    )
    .await;
    assert_eq!(
        body["errors"]["reason"], "At most 500 characters.",
        "{body}"
    );
    let store = world.store().await;
    let r = store
        .requests_for_channel(&channel)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((r.state, r.deciding), (RequestState::Pending, None));

    let reason = "we already have a channel for this";
    let (status, body) = submit(&world, &one, &p1, &opened, json!({"reason": reason})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("errors").is_none() && body.get("error").is_none(),
        "{body}"
    );
    // Every copy shows it.
    for admin in [&one, &two] {
        let done = dm_showing(&world, admin, "Budget", "rejected by @sysadmin").await;
        let text = attachment_text(&done);
        assert!(text.contains(&format!("*{reason}*")), "{text}");
        assert!(
            text.contains("was told in the channel, with the reason,"),
            "{text}"
        );
    }
    // The sending side reads who declined, by our site name, and why.
    let expected = format!("Org B declined to receive this channel: *{reason}*");
    let on_a = wait("the notice on Org A", || async {
        posts_of(&world.a_admin, &channel)
            .await
            .into_iter()
            .find(|p| p.message.contains(&expected))
    })
    .await;
    assert!(!on_a.message.contains("sharebot_reject_notice"));
    let r = store
        .requests_for_channel(&channel)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(r.state, RequestState::Rejected);
    assert_eq!(r.note.as_deref(), Some(reason));
    bot.shutdown().await.unwrap();
}
