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

/// Makes `user` an admin of team `team` on Org B (`scheme_admin`), as a system admin would.
async fn make_team_admin(world: &World, team: &str, user: &str, admin: bool) {
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, body) = support::harness::call(
        world.b.site_url(),
        Method::PUT,
        &format!(
            "/api/v4/teams/{}/members/{}/schemeRoles",
            world.b.team_id(team).unwrap(),
            world.b.user_id(user).unwrap()
        ),
        Some(&token),
        Some(json!({"scheme_admin": admin, "scheme_user": true, "scheme_guest": false})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The request about `channel` as the bot stored it.
async fn request_of(world: &World, channel: &str) -> sharebot::store::ReviewRequest {
    let store = world.store().await;
    let r = store.requests_for_channel(channel).await.unwrap().remove(0);
    store.close().await;
    r
}

/// Clicks `action` on `post` as `admin` through the server; returns the private answer the
/// server then shows them (an `ephemeral_message`).
async fn click_and_read(
    world: &World,
    admin: &Admin,
    post: &Post,
    action: &str,
    selected: Option<&str>,
) -> String {
    let mut ws = socket(world.b.site_url(), &admin.token).await;
    let (status, answer) = admin.click(&post.id, action, selected).await;
    assert_eq!(status, 200, "{answer}");
    let event = next_named(&mut ws, "ephemeral_message").await;
    let post: Value = serde_json::from_str(event["data"]["post"].as_str().unwrap()).unwrap();
    post["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_shared_channel_manager_decides_when_listed_and_is_refused_when_not_or_revoked() {
    let mut world = World::new(
        MadeBy::Console,
        "shared-inbox",
        &[(
            "SHAREBOT_REVIEW__APPROVERS",
            "system_admin, system_shared_channel_manager",
        )],
    )
    .await;
    set_roles(
        &world,
        "user-1",
        "system_user system_shared_channel_manager",
    )
    .await;
    let first = world.share("launch", "Launch").await;
    let second = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let bot_user = bot_id(&world);
    let manager = world.user("user-1", "SampleUs@r-1").await;
    let dm = |name: &'static str| {
        let manager = &manager;
        let bot_user = bot_user.clone();
        async move {
            wait("the manager's review DM", || async {
                manager.review_dm(&bot_user, name).await
            })
            .await
        }
    };
    let (launch, budget) = (dm("Launch").await, dm("Budget").await);
    // Listed, the Shared Channel Manager decides like a system admin.
    let (status, answer) = manager.click(&launch.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    let (_, _, two, _) = both_dms(&world, "Launch").await;
    dm_showing(&world, &two, "Launch", "rejected by @user-1").await;

    // The role revoked: within the check's lifetime the next click decides nothing.
    set_roles(&world, "user-1", "system_user").await;
    tokio::time::sleep(sharebot::review::ADMIN_CHECK_TTL + std::time::Duration::from_millis(200))
        .await;
    let answer = click_and_read(&world, &manager, &budget, "reject", None).await;
    assert!(
        answer.contains("Only system admins and Shared Channel Managers can decide"),
        "{answer}"
    );
    let r = request_of(&world, &second).await;
    assert_eq!((r.state, r.deciding), (RequestState::Pending, None));
    bot.shutdown().await.unwrap();

    // The role back, but the bot no longer lists it: refused, and never asked again.
    set_roles(
        &world,
        "user-1",
        "system_user system_shared_channel_manager",
    )
    .await;
    world.extra.clear();
    let bot = world.start_bot().await;
    let third = world.share("hiring", "Hiring").await;
    both_dms(&world, "Hiring").await;
    assert!(manager.review_dm(&bot_user, "Hiring").await.is_none());
    let answer = click_and_read(&world, &manager, &budget, "reject", None).await;
    assert!(answer.contains("Only system admins can decide"), "{answer}");
    for channel in [&second, &third] {
        let r = request_of(&world, channel).await;
        assert_eq!((r.state, r.deciding), (RequestState::Pending, None));
    }
    assert_eq!(
        request_of(&world, &first).await.state,
        RequestState::Rejected
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_team_admin_accepts_into_their_team_and_cannot_into_another() {
    let world = World::new(
        MadeBy::Console,
        "shared-inbox",
        &[("SHAREBOT_REVIEW__TEAM_ADMINS", "true")],
    )
    .await;
    make_team_admin(&world, "engineering", "user-1", true).await;
    let first = world.share("launch", "Launch").await;
    let bot = world.start_bot().await;
    let bot_user = bot_id(&world);
    let team_admin = world.user("user-1", "SampleUs@r-1").await;
    let engineering = world.b.team_id("engineering").unwrap();
    let marketing = world.b.team_id("marketing").unwrap();
    // The first channel suggests no team: only the system admins are asked.
    let (one, p1, _, _) = both_dms(&world, "Launch").await;
    one.click(&p1.id, "team", Some(&engineering)).await;
    one.click(&p1.id, "accept", None).await;
    dm_showing(&world, &one, "Launch", "accepted into **Engineering**").await;
    assert!(team_admin.review_dm(&bot_user, "Launch").await.is_none());

    // The next one from Org A suggests Engineering: its admin is asked, with a menu of the
    // teams they administer only.
    let second = world.share("budget", "Budget").await;
    let theirs = wait("the team admin's review DM", || async {
        team_admin.review_dm(&bot_user, "Budget").await
    })
    .await;
    assert_eq!(
        request_of(&world, &second)
            .await
            .suggested_team_id
            .as_deref(),
        Some(engineering.as_str())
    );
    let menu: Vec<String> = theirs.props.attachments[0].actions[0]
        .options
        .iter()
        .map(|o| o.value.clone())
        .collect();
    assert_eq!(menu, std::slice::from_ref(&engineering));
    // Another team (picked as a forged menu value would be): refused, nothing changes.
    let answer = click_and_read(&world, &team_admin, &theirs, "team", Some(&marketing)).await;
    assert!(
        answer.contains("You do not administer **Marketing**"),
        "{answer}"
    );
    let r = request_of(&world, &second).await;
    assert_eq!((r.state, r.deciding), (RequestState::Pending, None));
    // Their own team: accepted, and every copy shows it.
    let (status, answer) = team_admin.click(&theirs.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    let (_, _, two, _) = both_dms(&world, "Budget").await;
    dm_showing(
        &world,
        &two,
        "Budget",
        "accepted into **Engineering** by @user-1",
    )
    .await;
    assert_eq!(channel_on_b(&world, &second).await.team_id, engineering);
    assert_eq!(
        request_of(&world, &first).await.state,
        RequestState::Accepted
    );

    // A team admin may also reject a request for their team, with a reason.
    let third = world.share("social", "Social").await;
    let theirs = wait("the team admin's next review DM", || async {
        team_admin.review_dm(&bot_user, "Social").await
    })
    .await;
    let opened = open_dialog(&world, &team_admin, &theirs, "rejectreason").await;
    let reason = json!({"reason": "not for engineering"});
    let (status, body) = submit(&world, &team_admin, &theirs, &opened, reason).await;
    assert_eq!(status, 200, "{body}");
    dm_showing(&world, &two, "Social", "rejected by @user-1 at").await;
    let r = request_of(&world, &third).await;
    assert_eq!(
        (r.state, r.note.as_deref()),
        (RequestState::Rejected, Some("not for engineering"))
    );
    bot.shutdown().await.unwrap();
}
