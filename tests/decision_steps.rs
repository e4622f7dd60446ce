//! Nothing left half done after a crash, and a relocation keeps the history: the bot is
//! killed at each step boundary of a decision and of a relocation (the database left as the
//! crash leaves it), restarted, and every step is found finished exactly once (issue 18
//! item 13, issue 19 item 14).

mod support;

use std::time::Duration;

use sharebot::store::{Claim, Decider, How, RequestState, ReviewRequest, Store, Verdict};
use support::world::*;

/// The one request about `channel`.
async fn request_of(store: &Store, channel: &str) -> ReviewRequest {
    store
        .requests_for_channel(channel)
        .await
        .unwrap()
        .pop()
        .unwrap()
}

/// How many audit rows of `action` the request has.
async fn audits(store: &Store, request: &str, action: &str) -> usize {
    store
        .audit_for(request)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == action)
        .count()
}

/// Waits until the request is accepted with nothing left to do.
async fn settled(store: &Store, channel: &str) -> ReviewRequest {
    wait("the request settled", || async {
        let r = request_of(store, channel).await;
        (r.state == RequestState::Accepted && r.relocating_to.is_none()).then_some(r)
    })
    .await
}

#[tokio::test]
async fn a_relocation_keeps_the_decision_and_the_audit_names_from_and_to() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("launch-plan", "Launch plan").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Launch plan").await;
    let marketing = world.b.team_id("marketing").unwrap();
    let engineering = world.b.team_id("engineering").unwrap();
    one.click(&p1.id, "team", Some(&marketing)).await;
    one.click(&p1.id, "accept", None).await;
    let done = dm_showing(
        &world,
        &two,
        "Launch plan",
        "accepted into **Marketing** by @sysadmin at",
    )
    .await;
    let (status, answer) = two.click(&done.id, "relocate", Some(&engineering)).await;
    assert_eq!(status, 200, "{answer}");
    let moved = dm_showing(
        &world,
        &one,
        "Launch plan",
        "moved to **Engineering** by @sysadmin2",
    )
    .await;
    let text = attachment_text(&moved);
    assert!(
        text.contains("accepted into **Marketing** by @sysadmin at"),
        "{text}"
    );
    assert_eq!(channel_on_b(&world, &channel).await.team_id, engineering);
    let store = world.store().await;
    let request = request_of(&store, &channel).await;
    assert_eq!(
        request.decided_by.as_ref().map(Decider::as_str),
        Some(one.id.as_str()),
        "the decision is kept"
    );
    let audit = store.audit_for(&request.id).await.unwrap();
    let relocated = audit
        .iter()
        .find(|e| e.action == "request.relocated")
        .unwrap();
    assert_eq!(relocated.actor, two.id);
    assert!(
        relocated.detail.contains("\"from_team\":\"Marketing\"")
            && relocated.detail.contains("\"to_team\":\"Engineering\""),
        "{}",
        relocated.detail
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_at_each_decision_step_finishes_it_exactly_once() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    // The deciding admin is not in the destination team: they join it first.
    set_roles(&world, "user-1", "system_user system_admin").await;
    let marketing = world.b.team_id("marketing").unwrap();
    let decider = world.b.user_id("user-1").unwrap();
    let store = world.store().await;
    let b = world.b_bot();
    // (progress recorded when the process died, audit row already written)
    let cases: [(&str, &str, bool); 3] = [
        ("step-none", "", false),
        ("step-decider", "decider,", false),
        ("step-audit", "decider,audit,", true),
    ];
    let mut channels = Vec::new();
    for (name, _, _) in &cases {
        channels.push(world.share(name, name).await);
    }
    let bot = world.start_bot().await;
    for (name, _, _) in &cases {
        both_dms(&world, name).await;
    }
    bot.kill().await;
    for ((_, progress, audited), channel) in cases.iter().zip(&channels) {
        let r = request_of(&store, channel).await;
        store
            .begin_decision(
                &r.id,
                &Claim {
                    verdict: Verdict::Accept,
                    how: How::Click,
                    by: Decider::Admin(decider.clone()),
                    team_id: Some(&marketing),
                    note: None,
                },
            )
            .await
            .unwrap();
        for step in progress.split(',').filter(|s| !s.is_empty()) {
            store.add_progress(&r.id, step).await.unwrap();
        }
        if *audited {
            store
                .audit(&decider, "request.accepted", &r.id, "{}")
                .await
                .unwrap();
        }
    }
    let bot = world.start_bot().await;
    for ((name, _, _), channel) in cases.iter().zip(&channels) {
        let r = settled(&store, channel).await;
        assert_eq!(
            audits(&store, &r.id, "request.accepted").await,
            1,
            "{name}: one audit row"
        );
        assert_eq!(
            channel_on_b(&world, channel).await.team_id,
            marketing,
            "{name}"
        );
    }
    // The steps done before the crash are not done again; the first one added the decider
    // to the team and the channel.
    b.team_member(&marketing, &decider)
        .await
        .expect("the decider joined the team");
    b.channel_member(&channels[0], &decider)
        .await
        .expect("the decider joined the channel");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for channel in &channels {
        let r = request_of(&store, channel).await;
        assert_eq!(audits(&store, &r.id, "request.accepted").await, 1);
    }
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_during_a_relocation_finishes_or_rolls_it_back_exactly_once() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let marketing = world.b.team_id("marketing").unwrap();
    let engineering = world.b.team_id("engineering").unwrap();
    let store = world.store().await;
    let names = ["recorded-only", "moved-not-recorded", "rolled-back"];
    let mut channels = Vec::new();
    for name in names {
        channels.push(world.share(name, name).await);
    }
    let bot = world.start_bot().await;
    for name in names {
        let (one, p1, _, _) = both_dms(&world, name).await;
        one.click(&p1.id, "team", Some(&marketing)).await;
        one.click(&p1.id, "accept", None).await;
    }
    for channel in &channels {
        settled(&store, channel).await;
    }
    bot.kill().await;
    let two = world.admin("sysadmin2").await;
    // Recorded, nothing moved yet.
    let r = request_of(&store, &channels[0]).await;
    assert!(store
        .begin_relocation(&r.id, &marketing, &engineering, &two.id)
        .await
        .unwrap());
    // Recorded and moved, the record not finished.
    let r = request_of(&store, &channels[1]).await;
    assert!(store
        .begin_relocation(&r.id, &marketing, &engineering, &two.id)
        .await
        .unwrap());
    two.client
        .move_channel(&channels[1], &engineering, false)
        .await
        .unwrap();
    // Recorded towards a team that is archived meanwhile: rolled back.
    let archived = two
        .client
        .create_team("closed-team", "Closed team", false)
        .await
        .unwrap();
    let r = request_of(&store, &channels[2]).await;
    assert!(store
        .begin_relocation(&r.id, &marketing, &archived.id, &two.id)
        .await
        .unwrap());
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, _) = support::harness::call(
        world.b.site_url(),
        reqwest::Method::DELETE,
        &format!("/api/v4/teams/{}", archived.id),
        Some(&token),
        None,
    )
    .await;
    assert!(status.is_success());

    let bot = world.start_bot().await;
    for channel in &channels[..2] {
        let r = wait("the move finished", || async {
            let r = request_of(&store, channel).await;
            (r.relocating_to.is_none() && r.team_id.as_deref() == Some(engineering.as_str()))
                .then_some(r)
        })
        .await;
        assert_eq!(channel_on_b(&world, channel).await.team_id, engineering);
        assert_eq!(r.accepted_team_id.as_deref(), Some(marketing.as_str()));
        assert_eq!(r.moved_by.as_deref(), Some(two.id.as_str()));
        assert_eq!(audits(&store, &r.id, "request.relocated").await, 1);
        world
            .b_bot()
            .channel_member(channel, &two.id)
            .await
            .expect("the mover joined the channel");
    }
    let r = wait("the move rolled back", || async {
        let r = request_of(&store, &channels[2]).await;
        r.relocating_to.is_none().then_some(r)
    })
    .await;
    assert_eq!(r.team_id.as_deref(), Some(marketing.as_str()));
    assert_eq!(channel_on_b(&world, &channels[2]).await.team_id, marketing);
    assert_eq!(audits(&store, &r.id, "request.relocated").await, 0);
    assert_eq!(audits(&store, &r.id, "request.relocate_failed").await, 1);
    let bot_id = bot_id(&world);
    wait("the mover told", || async {
        two.dm_posts(&bot_id)
            .await
            .into_iter()
            .find(|p| p.message.contains("could not move") && p.message.contains("archived"))
    })
    .await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_deciding_admin_the_team_refuses_is_told_and_the_decision_still_completes() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    set_roles(&world, "user-1", "system_user system_admin").await;
    let marketing = world.b.team_id("marketing").unwrap();
    let decider = world.user("user-1", "SampleUs@r-1").await;
    // user-1@sandbox.test is outside the team's allowed domains; the bot is exempt.
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, _) = support::harness::call(
        world.b.site_url(),
        reqwest::Method::PUT,
        &format!("/api/v4/teams/{marketing}/patch"),
        Some(&token),
        Some(serde_json::json!({"allowed_domains": "example.com"})),
    )
    .await;
    assert!(status.is_success());
    let channel = world.share("quiet", "Quiet").await;
    let bot = world.start_bot().await;
    let store = world.store().await;
    both_dms(&world, "Quiet").await;
    bot.kill().await;
    let r = request_of(&store, &channel).await;
    assert!(matches!(
        store
            .begin_decision(
                &r.id,
                &Claim {
                    verdict: Verdict::Accept,
                    how: How::Click,
                    by: Decider::Admin(decider.id.clone()),
                    team_id: Some(&marketing),
                    note: None,
                },
            )
            .await
            .unwrap(),
        sharebot::store::Decision::Made(_)
    ));
    let bot = world.start_bot().await;
    let r = settled(&store, &channel).await;
    assert_eq!(audits(&store, &r.id, "request.accepted").await, 1);
    assert_eq!(channel_on_b(&world, &channel).await.team_id, marketing);
    let bot_id = bot_id(&world);
    let told = wait("the decider told", || async {
        decider
            .dm_posts(&bot_id)
            .await
            .into_iter()
            .find(|p| p.message.contains("could not add you"))
            .map(|p| p.message)
    })
    .await;
    assert!(told.contains("Marketing"), "{told}");
    assert!(world
        .b_bot()
        .team_member(&marketing, &decider.id)
        .await
        .is_err());
    bot.shutdown().await.unwrap();
}
