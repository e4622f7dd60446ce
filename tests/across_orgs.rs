//! What each organization learns of the other's decisions: the reject notice confirmed by the
//! receiving server's own sync cursor, one notice per rejection whatever fails or restarts, the
//! sending side learning of a reject, and the system posts that sync after an accept.

mod support;

use serde_json::json;
use sharebot::mattermost::models::Post;
use sharebot::mattermost::ChannelPostsQuery;
use sharebot::mattermost::Client;
use sharebot::sandbox::faults::FaultSettings;
use sharebot::store::{Claim, Decider, How, RequestState, Verdict};
use support::world::*;

/// The posts of a channel as `client` sees them, oldest first.
async fn posts_of(client: &Client, channel: &str) -> Vec<Post> {
    let list = client
        .channel_posts(channel, &ChannelPostsQuery::default())
        .await
        .unwrap();
    list.ordered().into_iter().cloned().collect()
}

/// The reject notices (the bot's "declined" post) in a channel on Org B.
async fn notices_on_b(world: &World, channel: &str) -> usize {
    posts_of(&world.b_bot(), channel)
        .await
        .iter()
        .filter(|p| p.message.contains("declined to receive this channel"))
        .count()
}

#[tokio::test]
async fn a_reject_counts_as_told_only_once_the_cursor_passed_the_notice_itself() {
    // Org B's server runs two minutes ahead of the bot's clock: every post there, and the
    // connection's sync cursor, is "later" than the decision by the bot's clock.
    let world = World::new_with_b_clock(MadeBy::Console, "shared-inbox", &[], 120_000).await;
    let channel = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Budget").await;
    // A post from Org A reaches Org B; Org B's sync back to Org A filters it out and moves the
    // cursor over it, as the server does.
    let hello = world
        .a_admin
        .create_post(&Post {
            channel_id: channel.clone(),
            message: "hello from A".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let on_b = wait("Org A's post on Org B", || async {
        posts_of(&world.b_bot(), &channel)
            .await
            .into_iter()
            .find(|p| p.id == hello.id)
    })
    .await;
    wait("Org B's cursor past Org A's post", || async {
        let links = world
            .b_bot()
            .shared_channel_remotes(
                &world.remote_id,
                &sharebot::mattermost::models::SharedChannelRemoteFilter {
                    exclude_home: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        links
            .into_iter()
            .find(|l| l.channel_id == channel && l.last_post_update_at >= on_b.update_at)
    })
    .await;
    // From now on nothing Org B sends reaches Org A.
    world.a.faults().set(FaultSettings {
        error_rate: 1.0,
        ..FaultSettings::default()
    });
    let (status, answer) = one.click(&p1.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    let done = dm_showing(&world, &two, "Budget", "rejected by @sysadmin").await;
    let text = attachment_text(&done);
    assert!(
        text.contains("Org A may not have seen the notice"),
        "the notice never reached Org A, yet the outcome says: {text}"
    );
    assert!(!text.contains("was told"), "{text}");
    world.a.faults().set(FaultSettings::default());
    let on_a = posts_of(&world.a_admin, &channel).await;
    assert!(
        on_a.iter().all(|p| !p.message.contains("declined")),
        "Org A did get the notice: {on_a:?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retry_after_a_failed_uninvite_posts_no_second_notice() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, p1, _, _) = both_dms(&world, "Budget").await;
    // The first uninvite fails: the bot has just lost its admin role.
    let site = world.b.site_url().to_string();
    let bot_user = bot_id(&world);
    world.b.hooks().before_next(
        "POST",
        "/api/v4/remotecluster/{remote_id}/channels/{channel_id}/uninvite",
        move || async move {
            let token = support::harness::session(&site, "sysadmin", "Sys@dmin-sample1").await;
            let (status, body) = support::harness::call(
                &site,
                reqwest::Method::PUT,
                &format!("/api/v4/users/{bot_user}/roles"),
                Some(&token),
                Some(json!({"roles": "system_user"})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        },
    );
    let (status, answer) = one.click(&p1.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    wait("the request pending again", || async {
        let store = world.store().await;
        let r = store
            .requests_for_channel(&channel)
            .await
            .unwrap()
            .remove(0);
        store.close().await;
        (r.state == RequestState::Pending && r.deciding.is_none()).then_some(())
    })
    .await;
    assert_eq!(notices_on_b(&world, &channel).await, 1);
    set_roles(&world, "sharebot", "system_user system_admin").await;
    let fresh = wait("the Reject button back", || async {
        one.review_dm(&bot_id(&world), "Budget")
            .await
            .filter(|p| action_ids(p).contains(&"reject".to_string()))
    })
    .await;
    let (status, answer) = one.click(&fresh.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    dm_showing(&world, &one, "Budget", "rejected by @sysadmin").await;
    assert_eq!(
        notices_on_b(&world, &channel).await,
        1,
        "the retry posted a second notice"
    );
    let on_a = posts_of(&world.a_admin, &channel).await;
    assert_eq!(
        on_a.iter()
            .filter(|p| p.message.contains("declined to receive this channel"))
            .count(),
        1,
        "{on_a:?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_right_after_the_notice_was_posted_posts_no_second_notice() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("budget", "Budget").await;
    let bot = world.start_bot().await;
    let (one, _, _, _) = both_dms(&world, "Budget").await;
    bot.shutdown().await.unwrap();
    // The state a crash leaves right after the notice was posted and before the bot recorded
    // it: the decision claimed, its notice in the channel, no step recorded.
    let store = world.store().await;
    let request = store
        .requests_for_channel(&channel)
        .await
        .unwrap()
        .remove(0);
    store
        .begin_decision(
            &request.id,
            &Claim {
                verdict: Verdict::Reject,
                how: How::Click,
                by: Decider::Admin(one.id.clone()),
                team_id: None,
                note: None,
            },
        )
        .await
        .unwrap();
    let b_bot = world.b_bot();
    b_bot
        .add_channel_member(&channel, &bot_id(&world))
        .await
        .unwrap();
    let mut notice = Post {
        channel_id: channel.clone(),
        message: "org-b declined to receive this channel.\n\nIt will no longer receive messages \
                  there."
            .into(),
        ..Post::default()
    };
    notice
        .props
        .other
        .insert("sharebot_reject_notice".into(), json!(request.id));
    b_bot.create_post(&notice).await.unwrap();
    store.close().await;

    let bot = world.start_bot().await;
    dm_showing(&world, &one, "Budget", "rejected by @sysadmin").await;
    assert_eq!(
        notices_on_b(&world, &channel).await,
        1,
        "the restarted bot posted a second notice"
    );
    bot.shutdown().await.unwrap();
}

/// A sharebot on Org A (the sending side), with its own database.
async fn start_bot_on_a(world: &World, dir: &std::path::Path) -> sharebot::bot::RunningBot {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let env: std::collections::HashMap<String, String> = [
        ("SHAREBOT_MATTERMOST__URL", world.a.site_url()),
        ("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN),
        ("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins"),
        ("SHAREBOT_SERVER__PUBLIC_URL", public.as_str()),
        ("SHAREBOT_SERVER__SECRET", SIGNING),
        ("SHAREBOT_REVIEW__RECONCILE_EVERY", "1s"),
        (
            "SHAREBOT_DATABASE__URL",
            &format!("sqlite://{}", dir.join("a.db").display()),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = sharebot::config::Config::load_from(None, &env).expect("valid configuration");
    let bot = sharebot::domain::start(&config, fast(), Some(listener))
        .await
        .expect("bot starts");
    bot.wait_connected(std::time::Duration::from_secs(10)).await;
    bot
}

/// Org B stops receiving `channel` as its reject does (an uninvite), then someone on Org A
/// posts in it, so Org A's server learns it at its next sync.
async fn org_b_uninvites_then_a_posts(world: &World, channel: &str) {
    let b_admin = login(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    b_admin
        .uninvite_remote_from_channel(&world.remote_id, channel)
        .await
        .unwrap();
    world
        .a_admin
        .create_post(&Post {
            channel_id: channel.to_string(),
            message: "anyone there?".into(),
            ..Post::default()
        })
        .await
        .unwrap();
}

/// The bot's posts in Org A's admin channel that say Org B declined `name`.
async fn declines_told(world: &World, name: &str) -> usize {
    let admins = world.a.channel_id("engineering", "admins").unwrap();
    posts_of(&world.a_admin, &admins)
        .await
        .iter()
        .filter(|p| p.message.contains(&format!("Org B declined ~{name}")))
        .count()
}

#[tokio::test]
async fn the_sending_side_learns_of_a_reject_and_its_bot_says_so_once() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let plan = world.share("launch-plan", "Launch plan").await;
    let budget = world.share("budget", "Budget").await;
    for channel in [&plan, &budget] {
        wait("the channel on Org B", || async {
            world.b_bot().get_channel(channel).await.ok()
        })
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let bot = start_bot_on_a(&world, dir.path()).await;

    org_b_uninvites_then_a_posts(&world, &plan).await;
    // Org A's server unshares its side with a system post, as the real server does.
    wait("Org A's channel unshared", || async {
        let posts = posts_of(&world.a_admin, &plan).await;
        let channel = world.a_admin.get_channel(&plan).await.unwrap();
        (!channel.is_shared()
            && posts
                .iter()
                .any(|p| p.message == "This channel is no longer shared."))
        .then_some(())
    })
    .await;
    wait("the bot on Org A telling its admins", || async {
        (declines_told(&world, "launch-plan").await == 1).then_some(())
    })
    .await;
    let admins = world.a.channel_id("engineering", "admins").unwrap();
    let asked = world
        .a_admin
        .create_post(&Post {
            channel_id: admins.clone(),
            message: "@sharebot shared".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let answer = wait("the answer to shared", || async {
        posts_of(&world.a_admin, &admins)
            .await
            .into_iter()
            .find(|p| p.root_id == asked.id)
    })
    .await;
    assert!(
        answer.message.contains("They declined: ~launch-plan"),
        "{}",
        answer.message
    );

    // After a restart, a full pass (it tells of the second decline) says nothing new of the first.
    bot.shutdown().await.unwrap();
    let bot = start_bot_on_a(&world, dir.path()).await;
    org_b_uninvites_then_a_posts(&world, &budget).await;
    wait("the second decline told", || async {
        (declines_told(&world, "budget").await == 1).then_some(())
    })
    .await;
    assert_eq!(declines_told(&world, "launch-plan").await, 1);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_an_accept_the_sender_sees_the_join_posts_but_not_our_team_names() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("launch-plan", "Launch plan").await;
    let bot = world.start_bot().await;
    let (one, p1, _, _) = both_dms(&world, "Launch plan").await;
    let marketing = world.b.team_id("marketing").unwrap();
    let (status, answer) = one.click(&p1.id, "team", Some(&marketing)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    dm_showing(&world, &one, "Launch plan", "accepted into **Marketing**").await;
    wait("the deciding admin in the channel", || async {
        world.b_bot().channel_member(&channel, &one.id).await.ok()
    })
    .await;
    // Posts sync in order: once this one is on Org A, everything before it is too.
    let last = one.post(&channel, "welcome from B", "").await;
    wait("the last post on Org A", || async {
        posts_of(&world.a_admin, &channel)
            .await
            .into_iter()
            .find(|p| p.id == last.id)
    })
    .await;
    let on_a = posts_of(&world.a_admin, &channel).await;
    assert!(
        on_a.iter().any(|p| p.post_type.starts_with("system_")
            && p.remote_id.is_some()
            && p.message.contains("@sysadmin")),
        "the join post of the deciding admin syncs: {on_a:#?}"
    );
    let revealing: Vec<&Post> = on_a
        .iter()
        .filter(|p| {
            p.post_type == "system_move_channel"
                || p.message.contains("shared-inbox")
                || p.message.contains("marketing")
        })
        .collect();
    assert!(
        revealing.is_empty(),
        "Org A sees our team names: {revealing:#?}"
    );
    bot.shutdown().await.unwrap();
}
