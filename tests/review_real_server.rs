//! The review on a server configured and used as organizations do: an edit time limit
//! (`ServiceSettings.PostEditTimeLimit`), edits the server refuses for good (a post in an
//! archived channel), and a channel found by the arrival path and a reconcile pass at once.
//! Two sandbox instances, the real bot, admins who click.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use sharebot::sandbox::RunningSandbox;
use support::harness;
use support::world::*;

/// Sets Org B's server configuration as a system admin does (`PUT /api/v4/config/patch`).
async fn configure(world: &World, patch: serde_json::Value) {
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, body) = harness::call(
        world.b.site_url(),
        Method::PUT,
        "/api/v4/config/patch",
        Some(&token),
        Some(patch),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Counts the next `n` requests to `method route` as the sandbox receives them.
fn count_requests(
    sandbox: &RunningSandbox,
    method: &str,
    route: &str,
    n: usize,
) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let count = count.clone();
        sandbox
            .hooks()
            .before_next(method, route, move || async move {
                count.fetch_add(1, Ordering::SeqCst);
            });
    }
    count
}

/// Waits until `counter` has grown by `more` from `from`.
async fn counted(what: &str, counter: &AtomicUsize, from: usize, more: usize) {
    wait(what, || async {
        (counter.load(Ordering::SeqCst) >= from + more).then_some(())
    })
    .await;
}

/// With `PostEditTimeLimit` set, the server refuses any patch carrying `message` once the post
/// is older than the limit, for bots and admins too (`api4/post.go`, `postPatchChecks`): the
/// copies are edited through their attachments alone, so every copy still shows the decision.
#[tokio::test]
async fn a_decision_updates_every_copy_on_a_server_with_an_edit_time_limit() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    configure(&world, json!({"ServiceSettings": {"PostEditTimeLimit": 1}})).await;
    let channel = world.share("launch-plan", "Launch plan").await;
    let bot = world.start_bot().await;
    let (one, p1, two, p2) = both_dms(&world, "Launch plan").await;
    // Both DMs older than the limit, by the server's own record of them.
    let newest = world
        .b
        .stored_post(&p1.id)
        .unwrap()
        .create_at
        .max(world.b.stored_post(&p2.id).unwrap().create_at);
    wait("the DMs older than the limit", || async {
        (sharebot::ids::now_ms() > newest + 1000).then_some(())
    })
    .await;
    let marketing = world.b.team_id("marketing").unwrap();
    let (status, answer) = one.click(&p1.id, "team", Some(&marketing)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    for admin in [&one, &two] {
        let done = dm_showing(
            &world,
            admin,
            "Launch plan",
            "accepted into **Marketing** by @sysadmin",
        )
        .await;
        assert_eq!(action_ids(&done), ["relocate"]);
        assert!(
            done.message.is_empty(),
            "the outcome lives in the attachment"
        );
    }
    assert_eq!(channel_on_b(&world, &channel).await.team_id, marketing);
    bot.shutdown().await.unwrap();
}

/// A `pending` card left in an admin channel that was archived since (the admins moved to a
/// new one) can no longer be edited (`app/post.go`, `PatchPost`): the decision still updates
/// every DM, the card is given up once, and no reconcile pass tries it again.
#[tokio::test]
async fn a_card_in_an_archived_channel_is_given_up_once_not_retried_at_every_pass() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("plan", "Plan").await;
    let bot = world.start_bot().await;
    let (one, p1, two, _) = both_dms(&world, "Plan").await;
    let admins = world.admin_channel();
    let asked = one.post(&admins, "@sharebot pending", "").await;
    let bot_id = bot_id(&world);
    wait("the header and one card", || async {
        let r = one.replies(&admins, &asked.id, &bot_id).await;
        (r.len() >= 2).then_some(())
    })
    .await;
    one.client.archive_channel(&admins).await.unwrap();

    let patches = count_requests(&world.b, "PUT", "/api/v4/posts/{post_id}/patch", 1000);
    let passes = count_requests(&world.b, "GET", "/api/v4/remotecluster", 1000);
    let marketing = world.b.team_id("marketing").unwrap();
    one.click(&p1.id, "team", Some(&marketing)).await;
    let (status, answer) = one.click(&p1.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    for admin in [&one, &two] {
        dm_showing(
            &world,
            admin,
            "Plan",
            "accepted into **Marketing** by @sysadmin",
        )
        .await;
    }
    // Two passes for the decision's edits to be over, then two full passes that must not
    // edit anything again.
    let seen = passes.load(Ordering::SeqCst);
    counted("two reconcile passes", &passes, seen, 2).await;
    let before = patches.load(Ordering::SeqCst);
    let seen = passes.load(Ordering::SeqCst);
    counted("two more reconcile passes", &passes, seen, 3).await;
    assert_eq!(
        patches.load(Ordering::SeqCst),
        before,
        "a refused edit is not tried again at every pass"
    );
    let store = world.store().await;
    let request = store
        .requests_for_channel(&channel)
        .await
        .unwrap()
        .remove(0);
    let rows = store.notifications(&request.id).await.unwrap();
    let card = rows
        .iter()
        .find(|n| n.kind == "thread")
        .expect("the card's record");
    assert_eq!(
        card.refused_edit.as_deref(),
        Some("api.post.patch_post.can_not_update_post_in_deleted.error")
    );
    assert!(rows
        .iter()
        .filter(|n| n.kind == "dm")
        .all(|n| n.refused_edit.is_none()));
    bot.shutdown().await.unwrap();
}

/// The arrival path (`channel_created`) and a reconcile pass both take in one auto-accepted
/// channel, each having looked in the store before the other wrote: the sandbox holds whichever
/// reads the channel first until the other reads it too. Exactly one request is recorded and
/// one notice posted in the admin channel.
#[tokio::test]
async fn an_auto_accepted_channel_found_by_arrival_and_reconcile_at_once_is_recorded_once() {
    let world = World::new(MadeBy::Bot, "marketing", &[]).await;
    let bot = world.start_bot().await;
    // The start-up reconcile records the connection's policy (auto-accept into Marketing);
    // from then on an arrival is served from its event.
    let store = world.store().await;
    wait("the connection's policy", || async {
        store.policy(&world.remote_id).await.unwrap().map(|_| ())
    })
    .await;
    let (both_read_tx, both_read) = tokio::sync::watch::channel(false);
    let both_read_tx = Arc::new(both_read_tx);
    let first = both_read.clone();
    world
        .b
        .hooks()
        .before_next("GET", "/api/v4/channels/{channel_id}", move || async move {
            let mut first = first;
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(15),
                first.wait_for(|read| *read),
            )
            .await;
        });
    let second = both_read_tx.clone();
    world
        .b
        .hooks()
        .before_next("GET", "/api/v4/channels/{channel_id}", move || async move {
            let _ = second.send(true);
        });
    let channel = world.share("events", "Events").await;

    let admins = world.admin_channel();
    let one = world.admin("sysadmin").await;
    let bot_id = bot_id(&world);
    let notices = || async {
        let list = one
            .client
            .channel_posts(&admins, &sharebot::mattermost::ChannelPostsQuery::default())
            .await
            .unwrap();
        list.ordered()
            .into_iter()
            .filter(|p| p.user_id == bot_id && attachment_text(p).contains("Events"))
            .count()
    };
    wait("the auto-accept notice", || async {
        (notices().await > 0).then_some(())
    })
    .await;
    assert!(*both_read.borrow(), "both paths read the channel");
    // Two more passes: anything either path still had to post is out.
    let passes = count_requests(&world.b, "GET", "/api/v4/remotecluster", 100);
    counted("two reconcile passes", &passes, 0, 3).await;
    assert_eq!(notices().await, 1, "one notice in the admin channel");
    assert_eq!(store.requests_for_channel(&channel).await.unwrap().len(), 1);
    let audit = store.audit_recent(50).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "request.auto_accepted")
            .count(),
        1,
        "{audit:?}"
    );
    bot.shutdown().await.unwrap();
}
