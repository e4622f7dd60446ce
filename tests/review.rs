//! The review workflow end to end: two sandbox instances ("Org A" shares, "Org B" runs
//! sharebot), the real bot, and admins who click through
//! `POST /api/v4/posts/{post_id}/actions/{action_id}` and submit dialogs as a client would.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use sharebot::mattermost::models::{NewChannel, Post, SharedChannelRemoteFilter};
use sharebot::mattermost::ChannelPostsQuery;
use sharebot::store::{Claim, Decider, How, RequestState, Store, Verdict};
use support::asking::{forge, stored_context};
use support::sandbox::{next_named, socket};
use support::world::*;

#[tokio::test]
async fn an_admin_accepts_into_the_team_picked_in_the_menu_and_every_copy_shows_it() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("launch-plan", "Launch plan").await;
    let bot = world.start_bot().await;
    let (one, p1, two, p2) = both_dms(&world, "Launch plan").await;
    assert!(
        attachment_text(&p1).contains("Org A"),
        "{}",
        attachment_text(&p1)
    );
    assert!(attachment_text(&p1).contains("public channel"));
    assert!(attachment_text(&p1).contains("Coordinating the launch"));
    // The DM stays on screen for days: it says when the channel arrived, not how long ago.
    let when = attachment_text(&p1);
    assert!(
        when.contains("· shared at 20") && when.contains(" UTC"),
        "{when}"
    );
    assert!(
        !when.contains("just now") && !when.contains(" ago"),
        "{when}"
    );
    assert_eq!(
        action_ids(&p1),
        ["team", "accept", "reject", "choose", "rejectreason"]
    );
    let menu = &p1.props.attachments[0].actions[0];
    let names: Vec<&str> = menu.options.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(
        names,
        ["Engineering", "Marketing"],
        "every team but the inbox"
    );
    // The server strips integrations from what clients see.
    assert!(menu.integration.is_none());

    // A post on Org A before the decision brings a synced user into the channel on Org B,
    // who is not in any destination team: the move must add them first.
    world
        .a_admin
        .create_post(&Post {
            channel_id: channel.clone(),
            message: "hello from A".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let synced = wait("the synced user in the channel", || async {
        let members = world.b_bot().channel_members(&channel).await.unwrap();
        let users = world
            .b_bot()
            .users_by_ids(
                &members
                    .iter()
                    .map(|m| m.user_id.clone())
                    .collect::<Vec<_>>(),
            )
            .await
            .unwrap();
        users
            .into_iter()
            .find(|u| u.remote_id.as_deref().is_some_and(|r| !r.is_empty()))
    })
    .await;

    // A paused old leader sending this DM again uses the same pending_post_id: the server
    // hands back the DM rather than making a copy.
    let request_id = p1.props.other[sharebot::notify::REQUEST_MARKER]
        .as_str()
        .unwrap()
        .to_string();
    let again = world
        .b_bot()
        .create_post(&Post {
            channel_id: p1.channel_id.clone(),
            message: "a late copy".into(),
            pending_post_id: sharebot::notify::pending_post_id(&request_id, &one.id),
            ..Post::default()
        })
        .await
        .unwrap();
    assert_eq!(again.id, p1.id);

    let marketing = world.b.team_id("marketing").unwrap();
    let (status, answer) = one.click(&p1.id, "team", Some(&marketing)).await;
    assert_eq!(status, 200, "{answer}");
    // The click's update replaces the post's props whole: the DM stays marked as the post
    // about its request (a restart looks for it by that mark).
    let picked = world.b.posts(|p| p.id == p1.id);
    assert!(
        picked[0]
            .props
            .contains_key(sharebot::notify::REQUEST_MARKER),
        "{:?}",
        picked[0].props
    );
    let (status, answer) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");

    let done = dm_showing(
        &world,
        &two,
        "Launch plan",
        "accepted into **Marketing** by @sysadmin",
    )
    .await;
    assert_eq!(
        action_ids(&done),
        ["relocate"],
        "Accept/Reject gone, the relocate menu stays"
    );
    dm_showing(
        &world,
        &one,
        "Launch plan",
        "accepted into **Marketing** by @sysadmin",
    )
    .await;
    let moved = channel_on_b(&world, &channel).await;
    assert_eq!(moved.team_id, marketing);
    let client = world.b_bot();
    client
        .channel_member(&channel, &one.id)
        .await
        .expect("the deciding admin joined the channel");
    client
        .team_member(&marketing, &synced.id)
        .await
        .expect("the synced user joined the team");
    // The buttons of the updated post still work (integrations were sent again).
    let (status, answer) = two
        .click(
            &done.id,
            "relocate",
            Some(&world.b.team_id("engineering").unwrap()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let store = world.store().await;
    assert_eq!(store.requests_for_channel(&channel).await.unwrap().len(), 1);
    let (_, audit) = settled(&store, &channel).await;
    assert!(
        audit
            .iter()
            .any(|e| e.action == "request.accepted" && e.actor == one.id),
        "{audit:?}"
    );
    assert_eq!(p2.props.attachments.len(), 1);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_reject_tells_the_sender_in_the_channel_then_stops_syncing_and_archives() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Budget").await;
    let (status, answer) = one.click(&p1.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    let done = dm_showing(&world, &two, "Budget", "rejected by @sysadmin").await;
    assert!(
        attachment_text(&done).contains("was told in the channel"),
        "{}",
        attachment_text(&done)
    );
    // Accept and Reject are gone; what is left offers to make the refusal a rule.
    assert_eq!(action_ids(&done), ["alwaysreject", "alwaysrejectedit"]);
    // Org A received the notice.
    let notice = wait("the notice on Org A", || async {
        let list = world
            .a_admin
            .channel_posts(&channel, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .find(|p| p.message.contains("declined"))
            .cloned()
    })
    .await;
    assert!(notice.remote_id.is_some());
    // On Org B the channel is archived and no longer linked to Org A.
    let archived = channel_on_b(&world, &channel).await;
    assert!(archived.is_archived());
    let b_bot = world.b_bot();
    let links = b_bot
        .shared_channel_remotes(
            &world.remote_id,
            &SharedChannelRemoteFilter {
                exclude_home: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(links.iter().all(|l| l.channel_id != channel), "{links:?}");
    // A second admin clicking the old buttons learns who decided; nothing changes.
    let p2 = two.review_dm(&bot_id(&world), "Budget").await.unwrap();
    let (status, _) = two.click(&p2.id, "accept", None).await;
    assert_eq!(status, 404, "the buttons are gone from the post");
    let store = world.store().await;
    let r = &store.requests_for_channel(&channel).await.unwrap()[0];
    assert_eq!(r.state, RequestState::Rejected);
    assert_eq!(
        r.decided_by.as_ref().map(Decider::as_str),
        Some(one.id.as_str())
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_admins_racing_get_exactly_one_decision_and_the_loser_is_told() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("race", "Race").await;
    let bot = world.start_bot().await;
    let (one, p1, two, p2) = both_dms(&world, "Race").await;
    let engineering = world.b.team_id("engineering").unwrap();
    one.click(&p1.id, "team", Some(&engineering)).await;
    two.click(&p2.id, "team", Some(&engineering)).await;
    let (a, b) = tokio::join!(
        one.click(&p1.id, "accept", None),
        two.click(&p2.id, "reject", None)
    );
    assert_eq!((a.0, b.0), (200, 200));
    let done1 = wait("a final state on sysadmin's copy", || async {
        one.review_dm(&bot_id(&world), "Race").await.filter(|p| {
            let t = attachment_text(p);
            t.contains("accepted into") || t.contains("rejected by")
        })
    })
    .await;
    let outcome = if attachment_text(&done1).contains("accepted into") {
        "accepted into"
    } else {
        "rejected by"
    };
    dm_showing(&world, &two, "Race", outcome).await;
    let store = world.store().await;
    assert_eq!(store.requests_for_channel(&channel).await.unwrap().len(), 1);
    let (request, audit) = settled(&store, &channel).await;
    let requests = [request];
    let decisions = audit
        .iter()
        .filter(|e| e.action == "request.accepted" || e.action == "request.rejected")
        .count();
    assert_eq!(decisions, 1, "{audit:?}");
    // The loser was told who won, in the answer to its own click (an ephemeral post).
    let winner_is_one =
        requests[0].decided_by.as_ref().map(Decider::as_str) == Some(one.id.as_str());
    let loser_answer = if winner_is_one { &b.1 } else { &a.1 };
    assert_eq!(loser_answer["status"], "OK");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn forged_tampered_unsigned_replayed_and_non_admin_callbacks_change_nothing() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("secure", "Secure").await;
    let bot = world.start_bot().await;
    let (one, p1, _two, p2) = both_dms(&world, "Secure").await;
    let store = world.store().await;
    let engineering = world.b.team_id("engineering").unwrap();
    let accept = stored_context(&world, &p1.id, "accept");
    let reject = stored_context(&world, &p2.id, "reject");
    let click = |user: &str, post: &str, context: Value| {
        json!({"user_id": user, "user_name": "x", "channel_id": "c", "post_id": post, "trigger_id": "t",
               "type": "button", "context": context})
    };

    // Unsigned: 400. A missing context: 400.
    let (status, body) = forge(
        &bot,
        click(
            &one.id,
            &p1.id,
            json!({"request": accept["request"], "action": "accept", "recipient": one.id}),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["ephemeral_text"]
        .as_str()
        .unwrap()
        .contains("no sharebot signature"));
    let (status, _) = forge(&bot, click(&one.id, &p1.id, Value::Null)).await;
    assert_eq!(status, 400);
    // Tampered: the same signature over another action or request: 403.
    let mut tampered = accept.clone();
    tampered["action"] = json!("reject");
    let (status, body) = forge(&bot, click(&one.id, &p1.id, tampered)).await;
    assert_eq!(status, 403, "{body}");
    let mut forged = accept.clone();
    forged["sig"] = json!("0".repeat(64));
    assert_eq!(forge(&bot, click(&one.id, &p1.id, forged)).await.0, 403);
    // A valid context on another admin's post, or clicked by someone else: refused, 200.
    let (status, body) = forge(&bot, click(&one.id, &p2.id, accept.clone())).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{body}"
    );
    let plain_user = world.b.user_id("user-1").unwrap();
    let (status, body) = forge(&bot, click(&plain_user, &p1.id, accept.clone())).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("Only system admins"),
        "{body}"
    );
    // A plain user cannot even reach the admin's DM post through the server.
    let user = world.user("user-1", "SampleUs@r-1").await;
    let (status, _) = user.click(&p1.id, "accept", None).await;
    assert_eq!(status, 403);
    let r = &store.requests_for_channel(&channel).await.unwrap()[0];
    assert_eq!(
        (r.state, r.deciding),
        (RequestState::Pending, None),
        "nothing changed"
    );

    // The real click, then a replay of it: the replay is told it is decided; nothing changes.
    one.click(&p1.id, "team", Some(&engineering)).await;
    let (status, _) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200);
    dm_showing(&world, &one, "Secure", "accepted into **Engineering**").await;
    let (status, body) = forge(&bot, click(&one.id, &p1.id, accept.clone())).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("Already accepted"),
        "{body}"
    );
    let two_id = world.b.user_id("sysadmin2").unwrap();
    let (status, body) = forge(&bot, click(&two_id, &p2.id, reject)).await;
    assert_eq!(status, 200);
    assert!(
        body["ephemeral_text"]
            .as_str()
            .unwrap()
            .contains("Already accepted into **Engineering** by @sysadmin"),
        "{body}"
    );
    let r = &store.requests_for_channel(&channel).await.unwrap()[0];
    assert_eq!(r.state, RequestState::Accepted);
    assert_eq!(channel_on_b(&world, &channel).await.team_id, engineering);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_choose_team_dialog_accepts_with_a_note() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("hiring", "Hiring").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Hiring").await;
    let mut ws = socket(world.b.site_url(), &one.token).await;
    let (status, answer) = one.click(&p1.id, "choose", None).await;
    assert_eq!(status, 200, "{answer}");
    let event = next_named(&mut ws, "open_dialog").await;
    let opened: Value = serde_json::from_str(event["data"]["dialog"].as_str().unwrap()).unwrap();
    let dialog = &opened["dialog"];
    assert_eq!(dialog["elements"][0]["name"], "team");
    let marketing = world.b.team_id("marketing").unwrap();
    let submit = |submission: Value, state: Value| {
        json!({"url": opened["url"], "callback_id": dialog["callback_id"], "state": state,
               "channel_id": p1.channel_id, "team_id": world.b.team_id("engineering").unwrap(), "submission": submission, "cancelled": false})
    };
    let post_submit = |body: Value| {
        let one = &one;
        async move { one.submit_dialog(&body).await }
    };
    // A team that is not offered is a field error; a tampered state is refused.
    let (status, body) = post_submit(submit(
        json!({"team": "nosuchteam00000000000000000"}),
        dialog["state"].clone(),
    ))
    .await;
    assert_eq!(status, 200);
    assert!(body["errors"]["team"].is_string(), "{body}");
    let mut state: Value = serde_json::from_str(dialog["state"].as_str().unwrap()).unwrap();
    state["request"] = json!("someotherrequest");
    let (status, _) =
        post_submit(submit(json!({"team": marketing}), json!(state.to_string()))).await;
    assert_ne!(status, 200);
    let (status, body) = post_submit(submit(
        json!({"team": marketing, "note": "for the recruiters"}),
        dialog["state"].clone(),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let done = dm_showing(
        &world,
        &two,
        "Hiring",
        "accepted into **Marketing** by @sysadmin",
    )
    .await;
    assert!(attachment_text(&done).contains("for the recruiters"));
    assert_eq!(channel_on_b(&world, &channel).await.team_id, marketing);
    let store = world.store().await;
    assert_eq!(
        store.requests_for_channel(&channel).await.unwrap()[0]
            .note
            .as_deref(),
        Some("for the recruiters")
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_killed_bot_loses_no_request_and_sends_no_dm_twice() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    // The channel arrives while the bot is down: found at start-up.
    let channel = world.share("ops", "Ops").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Ops").await;
    bot.kill().await;
    let store = world.store().await;
    let request = store.requests_for_channel(&channel).await.unwrap()[0].clone();
    // Killed between notify and decide: a claim left without its post (the post was sent,
    // the record was not) is resolved by reusing the post, not sending another.
    forget_recorded_post(&store, &request.id, &one.id).await;
    let bot = world.start_bot().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bot_id = bot_id(&world);
    assert_eq!(one.dm_posts(&bot_id).await.len(), 1, "no second DM");
    assert_eq!(two.dm_posts(&bot_id).await.len(), 1, "no second DM");
    let rows = store.notifications(&request.id).await.unwrap();
    assert!(rows.iter().all(|n| n.post_id.is_some()));
    assert_eq!(
        rows.iter()
            .find(|n| n.admin_user_id == one.id)
            .unwrap()
            .post_id
            .as_deref(),
        Some(p1.id.as_str())
    );

    // Killed between the decision and the DM update: the copies are brought up to date.
    let engineering = world.b.team_id("engineering").unwrap();
    one.click(&p1.id, "team", Some(&engineering)).await;
    one.click(&p1.id, "accept", None).await;
    dm_showing(&world, &two, "Ops", "accepted into").await;
    bot.kill().await;
    for n in store.notifications(&request.id).await.unwrap() {
        store
            .mark_shown(&n.request_id, &n.admin_user_id, "pending::")
            .await
            .unwrap();
    }
    // And a decision claimed but not applied when the process died is finished.
    let second = world.share("ops-two", "Ops two").await;
    let bot = world.start_bot().await;
    let (_, q1, _, _) = both_dms(&world, "Ops two").await;
    bot.kill().await;
    let r2 = wait("the second request", || async {
        store.requests_for_channel(&second).await.unwrap().pop()
    })
    .await;
    store
        .begin_decision(
            &r2.id,
            &Claim {
                verdict: Verdict::Accept,
                how: How::Click,
                by: Decider::Admin(one.id.clone()),
                team_id: Some(&engineering),
                note: None,
            },
        )
        .await
        .unwrap();
    let bot = world.start_bot().await;
    wait("every copy shows the outcome", || async {
        store
            .stale_notifications()
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    dm_showing(&world, &one, "Ops two", "accepted into **Engineering**").await;
    assert_eq!(channel_on_b(&world, &second).await.team_id, engineering);
    assert_eq!(
        one.dm_posts(&bot_id).await.len(),
        2,
        "one DM per request, none repeated"
    );
    let _ = q1;
    bot.shutdown().await.unwrap();
}

/// Forgets that a notification's post was recorded, as a crash right after sending leaves it.
async fn forget_recorded_post(store: &Store, request_id: &str, admin: &str) {
    let rows = store.notifications(request_id).await.unwrap();
    let row = rows.iter().find(|n| n.admin_user_id == admin).unwrap();
    store
        .clear_post_for_tests(&row.request_id, &row.admin_user_id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_channel_that_disappears_while_pending_is_withdrawn_and_the_dms_say_so() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("gone", "Gone soon").await;
    let bot = world.start_bot().await;
    let (one, _, _, _) = both_dms(&world, "Gone soon").await;
    // The channel disappears on our side (archived by someone) before anyone decided.
    one.client.archive_channel(&channel).await.unwrap();
    dm_showing(&world, &one, "Gone soon", "stopped sharing").await;
    let store = world.store().await;
    assert_eq!(
        store.requests_for_channel(&channel).await.unwrap()[0].state,
        RequestState::Withdrawn
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn auto_accept_posts_one_notice_with_a_relocate_menu_that_moves_the_channel() {
    let world = World::new(MadeBy::Console, "marketing", &[]).await;
    let channel = world.share("events", "Events").await;
    let bot = world.start_bot().await;
    let one = world.admin("sysadmin").await;
    let admins = world.b.channel_id("engineering", "admins").unwrap();
    let bot_id = bot_id(&world);
    let notice = wait("the auto-accept notice", || async {
        let list = one
            .client
            .channel_posts(&admins, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .find(|p| p.user_id == bot_id && attachment_text(p).contains("Events"))
            .cloned()
    })
    .await;
    assert!(
        attachment_text(&notice).contains("arrived in **Marketing**"),
        "{}",
        attachment_text(&notice)
    );
    assert_eq!(action_ids(&notice), ["relocate"]);
    assert_eq!(
        channel_on_b(&world, &channel).await.team_id,
        world.b.team_id("marketing").unwrap()
    );
    let engineering = world.b.team_id("engineering").unwrap();
    let (status, answer) = one.click(&notice.id, "relocate", Some(&engineering)).await;
    assert_eq!(status, 200, "{answer}");
    wait("the channel in Engineering", || async {
        (channel_on_b(&world, &channel).await.team_id == engineering).then_some(())
    })
    .await;
    wait("the notice updated", || async {
        let list = one
            .client
            .channel_posts(&admins, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .find(|p| {
                p.id == notice.id
                    && attachment_text(p).contains("is in **Engineering** (moved by @sysadmin")
            })
            .cloned()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let list = one
        .client
        .channel_posts(&admins, &ChannelPostsQuery::default())
        .await
        .unwrap();
    let notices = list
        .ordered()
        .into_iter()
        .filter(|p| p.user_id == bot_id && p.root_id.is_empty())
        .count();
    assert_eq!(notices, 1, "one notice per channel");
    let store = world.store().await;
    let audit = store.audit_recent(20).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "request.relocated" && e.actor == one.id));
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_the_bot_made_is_seen_at_once_through_channel_created() {
    let world = World::new(
        MadeBy::Bot,
        "shared-inbox",
        &[("SHAREBOT_REVIEW__RECONCILE_EVERY", "1h")],
    )
    .await;
    let bot = world.start_bot().await;
    // Give the start-up reconcile time to finish: from here on only the event can wake it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A reconcile starts by listing the connections; the arrival must not need one.
    world
        .b
        .hooks()
        .before_next("GET", "/api/v4/remotecluster", || async {});
    world.share("fast", "Fast lane").await;
    both_dms(&world, "Fast lane").await;
    assert_eq!(
        world.b.hooks().pending(),
        1,
        "the arrival was served from the event, without a reconcile"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn reminders_reply_in_the_thread_and_expiry_declines() {
    let world = World::new(
        MadeBy::Console,
        "shared-inbox",
        &[
            ("SHAREBOT_REVIEW__REMINDER_AFTER", "1s"),
            ("SHAREBOT_REVIEW__EXPIRE_AFTER", "4s"),
        ],
    )
    .await;
    let channel = world.share("slow", "Slow decision").await;
    let bot = world.start_bot().await;
    let (one, p1, _, _) = both_dms(&world, "Slow decision").await;
    let bot_id = bot_id(&world);
    let reminder = wait("a reminder in the thread", || async {
        one.dm_posts(&bot_id)
            .await
            .into_iter()
            .find(|p| p.root_id == p1.id && p.message.contains("Still waiting"))
    })
    .await
    .message;
    assert!(
        reminder.contains("shared at 20") && !reminder.contains(" ago"),
        "{reminder}"
    );
    let done = dm_showing(&world, &one, "Slow decision", "expired without a decision").await;
    assert!(action_ids(&done).is_empty());
    wait("the channel archived", || async {
        channel_on_b(&world, &channel)
            .await
            .is_archived()
            .then_some(())
    })
    .await;
    let store = world.store().await;
    let (r, audit) = settled(&store, &channel).await;
    assert_eq!(r.state, RequestState::Rejected);
    assert!(
        audit.iter().any(|e| e.action == "request.expired"),
        "{audit:?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refused_move_is_reported_to_the_admin_and_leaves_the_request_pending() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    // Marketing already has a channel with that name: the server refuses the move.
    let one = world.admin("sysadmin").await;
    let marketing = world.b.team_id("marketing").unwrap();
    one.client
        .create_channel(&NewChannel {
            team_id: marketing.clone(),
            name: "clash".into(),
            display_name: "Clash here".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    let channel = world.share("clash", "Clash").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Clash").await;
    one.click(&p1.id, "team", Some(&marketing)).await;
    let (status, _) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200);
    let bot_id = bot_id(&world);
    let report = wait("the failure DM", || async {
        one.dm_posts(&bot_id)
            .await
            .into_iter()
            .find(|p| p.message.contains("could not move"))
            .map(|p| p.message)
    })
    .await;
    assert!(report.contains("still pending"), "{report}");
    assert!(report.contains("Marketing"), "{report}");
    let store = world.store().await;
    wait("the request pending again", || async {
        let r = store.requests_for_channel(&channel).await.unwrap().pop()?;
        (r.state == RequestState::Pending && r.deciding.is_none()).then_some(())
    })
    .await;
    // Every copy offers the buttons again, and another team works.
    let again = wait("buttons back", || async {
        two.review_dm(&bot_id, "Clash")
            .await
            .filter(|p| action_ids(p).contains(&"accept".to_string()))
    })
    .await;
    let engineering = world.b.team_id("engineering").unwrap();
    two.click(&again.id, "team", Some(&engineering)).await;
    let (status, _) = two.click(&again.id, "accept", None).await;
    assert_eq!(status, 200);
    dm_showing(
        &world,
        &one,
        "Clash",
        "accepted into **Engineering** by @sysadmin2",
    )
    .await;
    let audit = store
        .audit_for(&store.requests_for_channel(&channel).await.unwrap()[0].id)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "request.accept_failed" && e.actor == one.id),
        "{audit:?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_admin_added_later_is_asked_and_one_removed_can_no_longer_decide() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("roster", "Roster change").await;
    let bot = world.start_bot().await;
    let (_, _, two, p2) = both_dms(&world, "Roster change").await;
    let bot_id = bot_id(&world);

    // user-1 becomes a system admin: the next roster refresh sends them the request too.
    set_roles(&world, "user-1", "system_user system_admin").await;
    let newcomer = world.user("user-1", "SampleUs@r-1").await;
    let theirs = wait("the new admin's review DM", || async {
        newcomer.review_dm(&bot_id, "Roster change").await
    })
    .await;
    assert!(action_ids(&theirs).contains(&"accept".to_string()));

    // sysadmin2 stops being one: within the admin check's lifetime their click decides nothing.
    set_roles(&world, "sysadmin2", "system_user").await;
    tokio::time::sleep(sharebot::review::ADMIN_CHECK_TTL + Duration::from_millis(200)).await;
    let (status, _) = two.click(&p2.id, "accept", None).await;
    assert_eq!(status, 200, "answered with an explanation, not an error");
    let store = world.store().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let request = store
        .requests_for_channel(&channel)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(request.state, RequestState::Pending);
    assert!(request.deciding.is_none());

    // The new admin decides; every copy, the former admin's included, shows it.
    let engineering = world.b.team_id("engineering").unwrap();
    newcomer.click(&theirs.id, "team", Some(&engineering)).await;
    let (status, _) = newcomer.click(&theirs.id, "accept", None).await;
    assert_eq!(status, 200);
    dm_showing(
        &world,
        &two,
        "Roster change",
        "accepted into **Engineering** by @user-1",
    )
    .await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn someone_joining_during_the_move_is_added_to_the_team_and_the_move_retried() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("busy", "Busy room").await;
    let bot = world.start_bot().await;
    let (one, p1, _, _) = both_dms(&world, "Busy room").await;
    let marketing = world.b.team_id("marketing").unwrap();
    let inbox = world.b.team_id("shared-inbox").unwrap();
    let late = world.b.user_id("user-1").unwrap();
    one.client.add_team_member(&inbox, &late).await.unwrap();
    let member_of = |team: String, user: String| {
        let client = world.b_bot();
        async move { client.team_member(&team, &user).await.is_ok() }
    };
    assert!(!member_of(marketing.clone(), late.clone()).await);

    // Just before the bot's first move request, user-1 joins the channel: that move finds a
    // member outside Marketing and is refused (`members_do_not_match`).
    let joiner = one.client.clone();
    let (hook_channel, hook_user) = (channel.clone(), late.clone());
    world.b.hooks().before_next(
        "POST",
        "/api/v4/channels/{channel_id}/move",
        move || async move {
            joiner
                .add_channel_member(&hook_channel, &hook_user)
                .await
                .expect("user-1 joins the channel");
        },
    );
    one.click(&p1.id, "team", Some(&marketing)).await;
    let (status, _) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200);
    dm_showing(&world, &one, "Busy room", "accepted into **Marketing**").await;
    assert_eq!(world.b.hooks().pending(), 0, "the move raced the join");
    assert_eq!(channel_on_b(&world, &channel).await.team_id, marketing);
    assert!(
        member_of(marketing.clone(), late.clone()).await,
        "the late joiner was added to the team and the move retried"
    );
    assert!(world.b_bot().channel_member(&channel, &late).await.is_ok());
    bot.shutdown().await.unwrap();
}

/// A known admin's click never waits on a user lookup: the admin check is refreshed in the
/// background before it runs out, so a steady clicker keeps an answer at most
/// `ADMIN_CHECK_TTL` old without any click waiting on the server. A lookup held by the
/// sandbox must not hold the click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_admins_click_never_waits_on_a_user_lookup() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    world.share("steady", "Steady clicks").await;
    let bot = world.start_bot().await;
    let (one, p1, _, _) = both_dms(&world, "Steady clicks").await;
    let engineering = world.b.team_id("engineering").unwrap();
    let marketing = world.b.team_id("marketing").unwrap();
    // The first click looks the admin up (never seen); the second, late in the check's
    // lifetime, is answered from it and has it refreshed behind the answer.
    let (status, _) = one.click(&p1.id, "team", Some(&engineering)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (status, _) = one.click(&p1.id, "team", Some(&marketing)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Past the first answer's lifetime: any lookup now is held until `released`.
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    world
        .b
        .hooks()
        .before_next("GET", "/api/v4/users/{user_id}", move || async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    let (status, _) = one.click(&p1.id, "team", Some(&engineering)).await;
    assert_eq!(status, 200);
    assert!(
        !released.load(std::sync::atomic::Ordering::SeqCst),
        "the click waited on a user lookup"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    bot.shutdown().await.unwrap();
}
