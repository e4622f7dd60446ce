//! Members' share requests end to end: two sandbox instances, the real bot on Org B, a plain
//! member who asks in a DM with the bot, and admins who click Approve / Deny / Deny with
//! reason… and submit the dialog as a client would.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use sharebot::mattermost::models::{NewChannel, Post, SharedChannelRemoteFilter};
use sharebot::store::{ShareState, Store};
use support::asking::{ask_post, forge, stored_context};
use support::sandbox::{next_named, socket};
use support::world::*;

const MEMBER: (&str, &str) = ("user-1", "SampleUs@r-1");

/// A channel of Org B's engineering team made by sysadmin, with `members` added; its id.
async fn channel(world: &World, name: &str, private: bool, members: &[&str]) -> String {
    let admin = world.admin("sysadmin").await;
    let channel = admin
        .client
        .create_channel(&NewChannel {
            team_id: world.b.team_id("engineering").unwrap(),
            name: name.into(),
            display_name: name.into(),
            channel_type: if private { "P" } else { "O" }.into(),
            purpose: format!("Purpose of {name}"),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    for m in members {
        admin
            .client
            .add_channel_member(&channel.id, &world.b.user_id(m).unwrap())
            .await
            .unwrap();
    }
    channel.id
}

/// The member asks in their DM with the bot; the bot's answer in that thread.
async fn member_asks(world: &World, member: &Admin, text: &str) -> Post {
    let dm = member.dm_with(&bot_id(world)).await;
    ask_post(world, member, &dm, text).await
}

/// An approver's DM about share request `number`.
async fn request_dm(world: &World, admin: &Admin, number: i64) -> Post {
    let bot = bot_id(world);
    let marker = format!("Request #{number}");
    wait(&format!("the DM about request #{number}"), || async {
        admin.dm_posts(&bot).await.into_iter().find(|p| {
            let text = attachment_text(p);
            text.contains("asks to share a channel") && text.contains(&marker)
        })
    })
    .await
}

/// Waits until `admin`'s DM about request `number` shows `text`.
async fn request_dm_showing(world: &World, admin: &Admin, number: i64, text: &str) -> Post {
    let bot = bot_id(world);
    let marker = format!("Request #{number}");
    wait(
        &format!("request #{number}'s DM showing {text:?}"),
        || async {
            admin.dm_posts(&bot).await.into_iter().find(|p| {
                let t = attachment_text(p);
                t.contains(&marker) && t.contains(text)
            })
        },
    )
    .await
}

/// Waits for a plain DM from the bot to `who` containing `text`.
async fn told(world: &World, who: &Admin, text: &str) -> Post {
    let bot = bot_id(world);
    wait(&format!("a DM saying {text:?}"), || async {
        who.dm_posts(&bot)
            .await
            .into_iter()
            .find(|p| p.root_id.is_empty() && p.message.contains(text))
    })
    .await
}

/// Whether Org B shares `channel` with the connection now.
async fn shared(world: &World, channel: &str) -> bool {
    let remote = world
        .b_bot()
        .list_remote_clusters(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|rc| rc.delete_at == 0)
        .unwrap()
        .remote_id;
    world
        .b_bot()
        .shared_channel_remotes(
            &remote,
            &SharedChannelRemoteFilter {
                exclude_remote: true,
                ..SharedChannelRemoteFilter::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .any(|scr| scr.channel_id == channel)
}

/// Clicks `action` on `post` as `who` and returns what the bot answered them (the ephemeral
/// post Mattermost shows the clicking user alone).
async fn click_told(world: &World, who: &Admin, post: &str, action: &str) -> String {
    let mut ws = socket(world.b.site_url(), &who.token).await;
    let (status, body) = who.click(post, action, None).await;
    assert_eq!(status, 200, "{body}");
    let event = next_named(&mut ws, "ephemeral_message").await;
    let post = &event["data"]["post"];
    let post: Value = match post.as_str() {
        Some(text) => serde_json::from_str(text).unwrap(),
        None => post.clone(),
    };
    post["message"].as_str().unwrap_or_default().to_string()
}

async fn audit_actions(store: &Store, request_id: &str) -> Vec<String> {
    store
        .audit_for(request_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn a_members_request_approved_is_shared_and_one_denied_with_a_reason_is_not() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let launch = channel(&world, "launch-plan", false, &["user-1"]).await;
    let budget = channel(&world, "budget", true, &["user-1"]).await;
    world.share("ops", "Ops").await;
    let bot = world.start_bot().await;
    let member = world.user(MEMBER.0, MEMBER.1).await;
    let store = world.store().await;

    let answer = member_asks(
        &world,
        &member,
        "share ~launch-plan with org-a --note \"for the joint launch\"",
    )
    .await;
    let confirmation = full_text(&answer);
    assert!(
        confirmation
            .contains("I asked the admins to share ~launch-plan with **Org A** (request #1)"),
        "{confirmation}"
    );
    assert!(action_ids(&answer).contains(&"withdraw".to_string()));
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;
    let p1 = request_dm(&world, &one, 1).await;
    let p2 = request_dm(&world, &two, 1).await;
    let text = attachment_text(&p1);
    for expected in [
        "@user-1 asks to share a channel with Org A",
        "~launch-plan",
        "public channel",
        "2 members",
        "Purpose of launch-plan",
        "Note from @user-1: for the joint launch",
    ] {
        assert!(text.contains(expected), "{text}\nwithout {expected:?}");
    }
    assert_eq!(
        action_ids(&p2),
        vec!["approve", "deny", "denywithreason"],
        "{p2:?}"
    );
    assert!(
        !shared(&world, &launch).await,
        "nothing shared before a decision"
    );

    // `pending` lists the share request and the incoming channel, each marked.
    both_dms(&world, "Ops").await;
    let asked = one
        .post(&world.admin_channel(), "@sharebot pending", "")
        .await;
    let bot_user = bot_id(&world);
    let replies = wait("both parts of `pending`", || async {
        let r = one
            .replies(&world.admin_channel(), &asked.id, &bot_user)
            .await;
        (r.len() >= 3).then_some(r)
    })
    .await;
    let listed = full_text(&replies[0]);
    for expected in [
        ":outbox_tray: **1 share request** from members",
        "**#1** ~launch-plan → **Org A**, asked by @user-1",
        "for the joint launch",
    ] {
        assert!(listed.contains(expected), "{listed}\nwithout {expected:?}");
    }
    let incoming = full_text(&replies[1]);
    assert!(
        incoming.contains("1 channel waiting for review (:inbox_tray: incoming"),
        "{incoming}"
    );
    assert!(full_text(&replies[2]).contains("Ops"));

    let said = click_told(&world, &one, &p1.id, "approve").await;
    assert!(said.contains("Approved request #1"), "{said}");
    told(&world, &member, "was approved by @sysadmin").await;
    assert!(shared(&world, &launch).await, "approved: shared");
    for admin in [&one, &two] {
        let done = request_dm_showing(&world, admin, 1, "**Approved** by @sysadmin").await;
        assert!(action_ids(&done).is_empty(), "no buttons left");
    }
    let requests = store.pending_share_requests().await.unwrap();
    assert!(requests.is_empty());
    let request = store.share_request_by_number(1).await.unwrap().unwrap();
    assert_eq!(request.state, ShareState::Approved);
    assert_eq!(
        audit_actions(&store, &request.id).await,
        vec!["share.requested", "share.approved"]
    );

    // Denied with a reason, through the dialog: the member is told why, nothing is shared.
    let answer = member_asks(&world, &member, "request-share ~budget with org-a").await;
    assert!(full_text(&answer).contains("(request #2)"));
    let q2 = request_dm(&world, &two, 2).await;
    assert!(attachment_text(&q2).contains("private channel"));
    let mut ws = socket(world.b.site_url(), &two.token).await;
    let (status, body) = two.click(&q2.id, "denywithreason", None).await;
    assert_eq!(status, 200, "{body}");
    let event = next_named(&mut ws, "open_dialog").await;
    let opened: Value = serde_json::from_str(event["data"]["dialog"].as_str().unwrap()).unwrap();
    let dialog = &opened["dialog"];
    assert_eq!(dialog["elements"][0]["name"], "reason");
    assert_eq!(dialog["elements"][0]["max_length"], 500);
    let submit = |reason: &str| {
        json!({"url": opened["url"], "callback_id": dialog["callback_id"],
               "state": dialog["state"], "channel_id": q2.channel_id,
               "team_id": world.b.team_id("engineering").unwrap(),
               "submission": {"reason": reason}, "cancelled": false})
    };
    // Too long a reason is a field error; nothing is decided.
    let (status, body) = two.submit_dialog(&submit(&"x".repeat(501))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"]["reason"].is_string(), "{body}");
    let (status, body) = two
        .submit_dialog(&submit("the budget stays internal"))
        .await;
    assert_eq!(status, 200, "{body}");
    told(
        &world,
        &member,
        "was denied by @sysadmin2: the budget stays internal",
    )
    .await;
    request_dm_showing(&world, &one, 2, "**Denied** by @sysadmin2").await;
    assert!(!shared(&world, &budget).await, "denied: not shared");
    let request = store.share_request_by_number(2).await.unwrap().unwrap();
    assert_eq!(request.reason, "the budget stays internal");
    assert_eq!(
        audit_actions(&store, &request.id).await,
        vec!["share.requested", "share.denied"]
    );
    // The asker's confirmation shows the outcome too, without its button.
    let confirmation = wait("the confirmation updated", || async {
        let p = world.b_bot().get_post(&answer.id).await.ok()?;
        full_text(&p).contains("**Denied**").then_some(p)
    })
    .await;
    assert!(action_ids(&confirmation).is_empty());
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_approvers_racing_get_exactly_one_decision() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let launch = channel(&world, "launch-plan", false, &["user-1"]).await;
    let bot = world.start_bot().await;
    let member = world.user(MEMBER.0, MEMBER.1).await;
    member_asks(&world, &member, "share ~launch-plan with org-a").await;
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;
    let p1 = request_dm(&world, &one, 1).await;
    let p2 = request_dm(&world, &two, 1).await;
    let texts = tokio::join!(
        click_told(&world, &one, &p1.id, "approve"),
        click_told(&world, &two, &p2.id, "deny")
    );
    let texts = [texts.0, texts.1];
    let lost = texts.iter().filter(|t| t.contains("was already")).count();
    assert_eq!(lost, 1, "exactly one loser: {texts:?}");
    let store = world.store().await;
    let request = store.share_request_by_number(1).await.unwrap().unwrap();
    let decided = audit_actions(&store, &request.id)
        .await
        .into_iter()
        .filter(|a| a == "share.approved" || a == "share.denied")
        .count();
    assert_eq!(decided, 1, "one decision in the audit");
    // Every copy shows the one decision; the member gets one DM about it.
    let shows = if request.state == ShareState::Approved {
        "**Approved** by @sysadmin"
    } else {
        "**Denied** by @sysadmin2"
    };
    request_dm_showing(&world, &one, 1, shows).await;
    request_dm_showing(&world, &two, 1, shows).await;
    told(&world, &member, "Your request #1").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bot_user = bot_id(&world);
    let outcomes = member
        .dm_posts(&bot_user)
        .await
        .into_iter()
        .filter(|p| p.message.starts_with("Your request #1"))
        .count();
    assert_eq!(outcomes, 1, "one outcome DM");
    assert_eq!(
        shared(&world, &launch).await,
        request.state == ShareState::Approved
    );
    // The buttons are gone from every copy: the server refuses a click on them.
    let (status, _) = two.click(&p2.id, "approve", None).await;
    assert_eq!(status, 404);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_members_may_request_a_private_channel_and_some_channels_never() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    channel(&world, "secret-plans", true, &[]).await;
    let old = channel(&world, "old-stuff", false, &["user-1"]).await;
    let bot = world.start_bot().await;
    world.b_bot().archive_channel(&old).await.unwrap();
    let member = world.user(MEMBER.0, MEMBER.1).await;
    let refused = full_text(&member_asks(&world, &member, "share ~secret-plans with org-a").await);
    assert!(
        refused.starts_with("I can't find that channel among those you can see."),
        "{refused}"
    );
    let one = world.admin("sysadmin").await;
    let admins = full_text(&member_asks(&world, &member, "share ~admins with org-a").await);
    assert!(admins.starts_with("I can't find that channel"), "{admins}");
    let archived =
        full_text(&member_asks(&world, &member, "share engineering/old-stuff with org-a").await);
    assert!(
        archived.contains("cannot be shared: it is archived."),
        "{archived}"
    );
    let store = world.store().await;
    assert!(store.pending_share_requests().await.unwrap().is_empty());
    assert!(
        one.dm_posts(&bot_id(&world))
            .await
            .iter()
            .all(|p| !attachment_text(p).contains("asks to share")),
        "no approver was asked"
    );
    // An admin asking for the admin channel hears why not, as today.
    let text = full_text(
        &ask_post(
            &world,
            &one,
            &world.admin_channel(),
            "@sharebot share ~admins with org-a",
        )
        .await,
    );
    assert!(text.contains("it is the admin channel"), "{text}");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_withdrawn_request_updates_every_dm() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let launch = channel(&world, "launch-plan", false, &["user-1"]).await;
    channel(&world, "roadmap", false, &["user-1"]).await;
    let bot = world.start_bot().await;
    let member = world.user(MEMBER.0, MEMBER.1).await;
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;

    // By command: only the asker, by number.
    member_asks(&world, &member, "share ~launch-plan with org-a").await;
    request_dm(&world, &one, 1).await;
    let p2 = request_dm(&world, &two, 1).await;
    let not_theirs = ask_post(
        &world,
        &one,
        &one.dm_with(&bot_id(&world)).await,
        "withdraw 1",
    )
    .await;
    assert!(full_text(&not_theirs).contains("You have no share request #1."));
    let answer = full_text(&member_asks(&world, &member, "withdraw 1").await);
    assert!(answer.contains("Withdrew request #1"), "{answer}");
    for admin in [&one, &two] {
        let done = request_dm_showing(&world, admin, 1, "**Withdrawn** by @user-1").await;
        assert!(action_ids(&done).is_empty());
    }
    let (status, _) = two.click(&p2.id, "approve", None).await;
    assert_eq!(status, 404, "no buttons left to click");
    let again = full_text(&member_asks(&world, &member, "withdraw 1").await);
    assert!(again.contains("was already withdrawn"), "{again}");

    // By the button on the confirmation, asked in a channel the bot is in; another member
    // of that channel cannot press it.
    let town = world.b.channel_id("engineering", "town-square").unwrap();
    let confirmation = ask_post(
        &world,
        &member,
        &town,
        "@sharebot share ~roadmap with org-a --note \"for the roadmap review\"",
    )
    .await;
    assert!(full_text(&confirmation).contains("`@sharebot withdraw 2`"));
    request_dm(&world, &one, 2).await;
    let refused = click_told(&world, &one, &confirmation.id, "withdraw").await;
    assert!(refused.contains("Only the member who asked"), "{refused}");
    let said = click_told(&world, &member, &confirmation.id, "withdraw").await;
    assert!(said.contains("Withdrew request #2"), "{said}");
    request_dm_showing(&world, &one, 2, "**Withdrawn** by @user-1").await;
    request_dm_showing(&world, &two, 2, "**Withdrawn** by @user-1").await;
    let store = world.store().await;
    let request = store.share_request_by_number(2).await.unwrap().unwrap();
    assert_eq!(
        audit_actions(&store, &request.id).await,
        vec!["share.requested", "share.withdrawn"]
    );
    assert!(!shared(&world, &launch).await);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_mid_approval_loses_nothing_and_doubles_nothing() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let launch = channel(&world, "launch-plan", false, &["user-1"]).await;
    let bot = world.start_bot().await;
    let member = world.user(MEMBER.0, MEMBER.1).await;
    member_asks(&world, &member, "share ~launch-plan with org-a").await;
    let one = world.admin("sysadmin").await;
    let two = world.admin("sysadmin2").await;
    let p1 = request_dm(&world, &one, 1).await;
    request_dm(&world, &two, 1).await;
    bot.kill().await;
    let store = world.store().await;
    let request = store.share_request_by_number(1).await.unwrap().unwrap();
    // Killed after sending sysadmin's DM and before recording it, then after the click's
    // decision was written and before any of its work was done.
    store
        .forget_share_post_for_tests(&request.id, &one.id)
        .await
        .unwrap();
    assert!(store
        .decide_share_request_for_tests(&request.id, ShareState::Approved, &one.id)
        .await
        .unwrap());
    let bot = world.start_bot().await;
    told(&world, &member, "was approved by @sysadmin").await;
    request_dm_showing(&world, &one, 1, "**Approved** by @sysadmin").await;
    request_dm_showing(&world, &two, 1, "**Approved** by @sysadmin").await;
    assert!(shared(&world, &launch).await);
    let bot_user = bot_id(&world);
    let posts = store.share_posts(&request.id).await.unwrap();
    assert_eq!(
        posts
            .iter()
            .find(|p| p.recipient == one.id)
            .and_then(|p| p.post_id.clone()),
        Some(p1.id.clone()),
        "the DM sent before the crash is found again, not sent twice"
    );
    // Restarted once more: nothing is sent again.
    bot.shutdown().await.unwrap();
    let bot = world.start_bot().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for admin in [&one, &two] {
        let about: Vec<Post> = admin
            .dm_posts(&bot_user)
            .await
            .into_iter()
            .filter(|p| attachment_text(p).contains("Request #1"))
            .collect();
        assert_eq!(about.len(), 1, "one DM per approver");
    }
    let outcomes = member
        .dm_posts(&bot_user)
        .await
        .into_iter()
        .filter(|p| p.message.starts_with("Your request #1"))
        .count();
    assert_eq!(outcomes, 1, "the member is told once");
    let shares = store
        .audit_recent(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "channel.shared" && e.subject == launch)
        .count();
    assert_eq!(shares, 1, "shared once");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_changed_secret_re_signs_the_open_share_request_buttons() {
    let mut world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let launch = channel(&world, "launch-plan", false, &["user-1"]).await;
    let bot = world.start_bot().await;
    let member = world.user(MEMBER.0, MEMBER.1).await;
    let confirmation = member_asks(&world, &member, "share ~launch-plan with org-a").await;
    let one = world.admin("sysadmin").await;
    let p1 = request_dm(&world, &one, 1).await;
    let old_approve = stored_context(&world, &p1.id, "approve");
    let old_withdraw = stored_context(&world, &confirmation.id, "withdraw");
    bot.shutdown().await.unwrap();

    // A new secret without the previous one: the start-up re-signs every open button.
    world.extra = vec![(
        "SHAREBOT_SERVER__SECRET".into(),
        "a-new-share-request-signing-secret-0123456789".into(),
    )];
    let bot = world.start_bot().await;
    let new_approve = wait("the approver's DM re-signed", || async {
        let c = stored_context(&world, &p1.id, "approve");
        (c["kid"] != old_approve["kid"]).then_some(c)
    })
    .await;
    let new_withdraw = wait("the confirmation re-signed", || async {
        let c = stored_context(&world, &confirmation.id, "withdraw");
        (c["kid"] != old_withdraw["kid"]).then_some(c)
    })
    .await;
    assert_eq!(new_approve["kid"], new_withdraw["kid"]);
    assert_eq!(new_approve["request"], old_approve["request"]);
    // The old context is refused; the re-signed button works.
    let forged = json!({"user_id": one.id, "post_id": p1.id, "context": old_approve});
    let (status, _) = forge(&bot, forged).await;
    assert_eq!(status, 403);
    let said = click_told(&world, &one, &p1.id, "approve").await;
    assert!(said.contains("Approved request #1"), "{said}");
    told(&world, &member, "was approved by @sysadmin").await;
    assert!(shared(&world, &launch).await);
    bot.shutdown().await.unwrap();
}
