//! The connection watch end to end: a connection whose pings stop is announced once offline
//! and once back (never at start-up, never again after a restart), and an invitation the bot
//! made warns before it expires and says once that it has, with the clocks of the server and
//! the bot moved forward by the test.

mod support;

use std::time::Duration;

use sharebot::bot::{RunningBot, Tuning};
use sharebot::clock::Clock;
use sharebot::mattermost::models::RemoteClusterFilter;
use sharebot::sandbox::faults::FaultSettings;
use support::asking::*;
use support::world::*;

/// The admin channel's posts by the bot, oldest first, as text.
async fn bot_posts(world: &World, who: &Admin) -> Vec<String> {
    let list = who
        .client
        .channel_posts(
            &world.admin_channel(),
            &sharebot::mattermost::ChannelPostsQuery {
                page: Some(0),
                per_page: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bot = bot_id(world);
    let mut posts: Vec<_> = list
        .ordered()
        .into_iter()
        .filter(|p| p.user_id == bot)
        .cloned()
        .collect();
    posts.sort_by_key(|p| p.create_at);
    posts.iter().map(full_text).collect()
}

fn count(posts: &[String], needle: &str) -> usize {
    posts.iter().filter(|p| p.contains(needle)).count()
}

const OFFLINE: &str = "is **offline**";
const BACK: &str = "is **back online**";

/// Six minutes: more than the five Mattermost allows without a ping.
const PAST_THE_WINDOW: Duration = Duration::from_secs(6 * 60);

async fn start(world: &World, clock: &Clock) -> RunningBot {
    world
        .start_bot_with(Tuning {
            clock: clock.clone(),
            ..fast()
        })
        .await
}

/// Org B's view of its connection to Org A has been pinged.
async fn pinged(world: &World) {
    let client = world.b_bot();
    wait("Org B's first ping to Org A", || {
        let client = client.clone();
        async move {
            let all = client
                .list_remote_clusters(&RemoteClusterFilter::default())
                .await
                .ok()?;
            all.iter().any(|rc| rc.last_ping_at > 0).then_some(())
        }
    })
    .await;
}

/// Org A stops answering (every request fails), and five minutes pass for Org B's server
/// and for the bot alike.
fn pings_stop(world: &World, clock: &Clock) {
    world.a.faults().set(FaultSettings {
        error_rate: 1.0,
        ..FaultSettings::default()
    });
    world.b.advance_clock(PAST_THE_WINDOW);
    clock.advance(PAST_THE_WINDOW);
}

#[tokio::test]
async fn a_connection_whose_pings_stop_is_announced_once_offline_and_once_back() {
    let world = World::new(MadeBy::Console, "engineering", &[]).await;
    pinged(&world).await;
    let clock = Clock::default();
    let bot = start(&world, &clock).await;
    let admin = world.admin("sysadmin").await;
    // Several passes (one a second) see it online: nothing is said.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(
        count(&posts, OFFLINE) + count(&posts, BACK),
        0,
        "{posts:#?}"
    );

    pings_stop(&world, &clock);
    let offline = wait("the offline post", || {
        let (world, admin) = (&world, &admin);
        async move {
            let posts = bot_posts(world, admin).await;
            posts.into_iter().find(|p| p.contains(OFFLINE))
        }
    })
    .await;
    assert!(offline.contains("**Org A** (`org-a`)"), "{offline}");
    assert!(offline.contains("has not reached it since"), "{offline}");
    assert!(offline.contains("nothing syncs with it"), "{offline}");
    // It stays offline for several more passes: still one post.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(count(&posts, OFFLINE), 1, "{posts:#?}");

    // A restart while it is offline says nothing new.
    bot.shutdown().await.unwrap();
    let bot = start(&world, &clock).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(count(&posts, OFFLINE), 1, "{posts:#?}");

    // Org A answers again: Org B's next ping (every 200 ms here) brings it back.
    world.a.faults().set(FaultSettings::default());
    let back = wait("the back-online post", || {
        let (world, admin) = (&world, &admin);
        async move {
            let posts = bot_posts(world, admin).await;
            posts.into_iter().find(|p| p.contains(BACK))
        }
    })
    .await;
    assert!(back.contains("after about 6 min away"), "{back}");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(
        (count(&posts, OFFLINE), count(&posts, BACK)),
        (1, 1),
        "{posts:#?}"
    );
    // Both are in the audit, by sharebot, about the connection.
    let store = &bot.store;
    let offline = store.audit_of("connection.offline", "").await.unwrap();
    let online = store.audit_of("connection.online", "").await.unwrap();
    assert_eq!((offline.len(), online.len()), (1, 1));
    assert_eq!(offline[0].subject, world.remote_id);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_already_offline_at_start_up_is_only_recorded() {
    let world = World::new(MadeBy::Console, "engineering", &[]).await;
    pinged(&world).await;
    let clock = Clock::default();
    pings_stop(&world, &clock);
    let bot = start(&world, &clock).await;
    let admin = world.admin("sysadmin").await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(
        count(&posts, OFFLINE) + count(&posts, BACK),
        0,
        "{posts:#?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_invitation_warns_six_hours_before_it_expires_and_says_once_that_it_has() {
    let world = World::bare().await;
    let clock = Clock::default();
    let bot = start(&world, &clock).await;
    let admin = world.admin("sysadmin").await;
    says(
        &world,
        &admin,
        "@sharebot connect org-c \"Org C\" --review",
        &["org-c"],
    )
    .await;
    const WARNING: &str = "has not been accepted, and its code stops working at";
    const EXPIRED: &str = "**expired** at";
    // 41 hours later: 7 hours left, no warning yet.
    let hours = |h: u64| Duration::from_secs(h * 3600);
    world.b.advance_clock(hours(41));
    clock.advance(hours(41));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(count(&posts, WARNING), 0, "{posts:#?}");

    // 43 hours after: 5 hours left.
    world.b.advance_clock(hours(2));
    clock.advance(hours(2));
    let warning = wait("the expiry warning", || {
        let (world, admin) = (&world, &admin);
        async move {
            let posts = bot_posts(world, admin).await;
            posts.into_iter().find(|p| p.contains(WARNING))
        }
    })
    .await;
    assert!(warning.contains("**Org C** (`org-c`)"), "{warning}");
    assert!(
        warning.contains("in about 4 h 59 min") || warning.contains("in about 5 h"),
        "{warning}"
    );
    assert!(warning.contains("`@sharebot reinvite org-c`"), "{warning}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&bot_posts(&world, &admin).await, WARNING), 1);

    // Past 48 hours: expired, said once, and nothing more after a restart.
    world.b.advance_clock(hours(6));
    clock.advance(hours(6));
    let expired = wait("the expiry note", || {
        let (world, admin) = (&world, &admin);
        async move {
            let posts = bot_posts(world, admin).await;
            posts.into_iter().find(|p| p.contains(EXPIRED))
        }
    })
    .await;
    assert!(
        expired.contains("`@sharebot disconnect org-c`"),
        "{expired}"
    );
    bot.shutdown().await.unwrap();
    let bot = start(&world, &clock).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posts = bot_posts(&world, &admin).await;
    assert_eq!(
        (count(&posts, WARNING), count(&posts, EXPIRED)),
        (1, 1),
        "{posts:#?}"
    );
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn mattermost_refuses_an_invite_code_48_hours_after_the_connection_was_created() {
    // The rule the warning is about, as the sandbox models it: the inviting server checks the
    // connection's age on its own clock when the other side confirms.
    let world = World::bare().await;
    let a_admin = &world.a_admin;
    let created = a_admin
        .create_remote_cluster(&sharebot::mattermost::models::NewRemoteCluster {
            name: "org-b".into(),
            display_name: "Org B".into(),
            default_team_id: world.a.team_id("engineering").unwrap(),
            password: String::new(),
        })
        .await
        .unwrap();
    world.a.advance_clock(Duration::from_secs(48 * 3600 + 60));
    let b_admin = world.admin("sysadmin").await;
    let err = b_admin
        .client
        .accept_invite(&sharebot::mattermost::models::AcceptInvite {
            invite: created.invite,
            name: "org-a".into(),
            display_name: "Org A".into(),
            default_team_id: world.b.team_id("engineering").unwrap(),
            password: created.password,
        })
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invitation_expired"), "{err:?}");
}
