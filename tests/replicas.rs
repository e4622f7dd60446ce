//! Replicas on one PostgreSQL: exactly one leader, elected with a session advisory lock, a
//! follower that takes over when the leader's lock connection is lost, fencing of the old
//! leader's writes, and real bots (two replicas of the bot on one database) that listen once
//! and answer clicks on any replica.

mod support;

use std::time::Duration;

use std::collections::HashMap;

use sharebot::bot::leader::{elect, Election, Role};
use sharebot::bot::RunningBot;
use sharebot::config::Config;
use sharebot::store::{CommandClaim, NewRequest, Store};
use sqlx::{Connection, PgConnection};
use support::asking::ask_admins;
use support::db::TestDb;
use support::world::*;
use tokio::net::TcpListener;
use tokio::sync::watch;

const TAKEOVER: Duration = Duration::from_millis(500);

/// Waits until exactly one of `elections` leads, for at most `within`; its index.
async fn one_leader(elections: &[&Election], within: Duration) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let leaders: Vec<usize> = elections
            .iter()
            .enumerate()
            .filter(|(_, e)| *e.role.borrow() == Role::Leader)
            .map(|(i, _)| i)
            .collect();
        if leaders.len() == 1 {
            return Some(leaders[0]);
        }
        assert!(leaders.len() < 2, "two leaders at once");
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn two_replicas_on_one_database_elect_exactly_one_leader() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (_stop, stop) = watch::channel(false);
    let a = elect(db.url.clone(), TAKEOVER, "a".into(), stop.clone());
    let b = elect(db.url.clone(), TAKEOVER, "b".into(), stop.clone());
    let leader = one_leader(&[&a, &b], Duration::from_secs(10)).await;
    assert!(leader.is_some(), "one of the two leads");
    // Several more takeover periods: still exactly one, and the same one.
    for _ in 0..20 {
        tokio::time::sleep(TAKEOVER / 5).await;
        assert_eq!(one_leader(&[&a, &b], Duration::ZERO).await, leader);
    }
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test]
async fn a_terminated_lock_connection_hands_leadership_to_the_other_replica() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (_stop, stop) = watch::channel(false);
    let a = elect(db.url.clone(), TAKEOVER, "a".into(), stop.clone());
    let b = elect(db.url.clone(), TAKEOVER, "b".into(), stop.clone());
    let first = one_leader(&[&a, &b], Duration::from_secs(10))
        .await
        .expect("one leader");
    let (old, new) = if first == 0 { (&a, &b) } else { (&b, &a) };
    let mut old_role = old.role.clone();

    // The database ends the leader's lock connection, as a restart or an admin would.
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        killed,
        vec![true],
        "exactly one advisory lock, the leader's"
    );

    // The other takes over within the takeover time (with slack for a loaded machine), and
    // by the time it leads the old leader has stepped down: never two leaders at once.
    let mut new_role = new.role.clone();
    tokio::time::timeout(TAKEOVER * 10, new_role.wait_for(|r| *r == Role::Leader))
        .await
        .expect("the follower takes over")
        .unwrap();
    assert_eq!(
        *old_role.borrow_and_update(),
        Role::Follower,
        "the new leader leads while the old one still does"
    );
    let _ = admin.close().await;
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// Ends the session holding the advisory lock (the leader's lock connection), as a database
/// restart or an admin would; how many sessions were ended.
async fn terminate_lock_holder(url: &str) -> usize {
    let mut admin = PgConnection::connect(url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    killed.into_iter().filter(|k| *k).count()
}

#[tokio::test]
async fn a_stalled_old_leaders_writes_are_refused_after_a_takeover() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let database = Config::load_database_from(
        None,
        &HashMap::from([("SHAREBOT_DATABASE__URL".to_string(), db.url.clone())]),
    )
    .unwrap()
    .database;

    let (request, _) = db
        .store
        .open_request(&NewRequest {
            remote_id: "remote0000000000000000000a".into(),
            channel_id: "channel000000000000000000a".into(),
            channel_name: "fenced".into(),
            channel_display_name: "Fenced".into(),
            channel_type: "O".into(),
            ..NewRequest::default()
        })
        .await
        .unwrap();
    let req = request.id.as_str();
    // The old leader: epoch 1, its loops' store fenced with it, its resume point written.
    let old_epoch = db.store.begin_epoch("old-leader").await.unwrap();
    let old = Store::connect_fenced(&database, old_epoch, Duration::from_secs(2))
        .await
        .unwrap();
    old.kv_put("mattermost.websocket.resume", "old point")
        .await
        .unwrap();
    assert!(old.claim_notification(req, "admin-1").await.unwrap());
    old.check_fence().await.unwrap();

    // It stalls; another replica wins the lock and raises the epoch.
    let new_epoch = db.store.begin_epoch("new-leader").await.unwrap();
    assert_eq!(new_epoch, old_epoch + 1);
    let new = Store::connect_fenced(&database, new_epoch, Duration::from_secs(2))
        .await
        .unwrap();
    new.kv_put("mattermost.websocket.resume", "new point")
        .await
        .unwrap();

    // The old leader wakes: every write of its loops is refused, and so is the send it was
    // about to make.
    let refused = old
        .kv_put("mattermost.websocket.resume", "old point, later")
        .await
        .unwrap_err();
    assert!(refused.is_fenced(), "{refused}");
    let refused = old.claim_notification(req, "admin-2").await.unwrap_err();
    assert!(refused.is_fenced(), "{refused}");
    let refused = old.release_notification(req, "admin-1").await.unwrap_err();
    assert!(refused.is_fenced(), "{refused}");
    assert!(matches!(
        old.claim_command("post-1", "user-1").await,
        Err(e) if e.is_fenced()
    ));
    assert!(old.check_fence().await.unwrap_err().is_fenced());
    // Nothing it tried is in the database; the new leader's resume point stands.
    assert_eq!(
        db.store
            .kv_get("mattermost.websocket.resume")
            .await
            .unwrap()
            .as_deref(),
        Some("new point")
    );
    let claims = db.store.notifications(req).await.unwrap();
    assert_eq!(claims.len(), 1, "{claims:?}");
    // The new leader and the callbacks (an unfenced store) write as before.
    assert!(new.claim_notification(req, "admin-2").await.unwrap());
    assert_eq!(
        db.store.claim_command("post-1", "user-1").await.unwrap(),
        CommandClaim::New
    );
    let leadership = db.store.leadership().await.unwrap();
    assert_eq!(
        (leadership.epoch, leadership.replica.as_str()),
        (new_epoch, "new-leader")
    );
    old.close().await;
    new.close().await;
    db.finish().await;
}

#[tokio::test]
async fn a_write_of_the_old_epoch_in_flight_holds_the_takeover_until_it_commits() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let epoch = db.store.begin_epoch("old-leader").await.unwrap();
    // The old leader's write, inside a transaction that has not committed yet.
    let mut old = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SELECT set_config('sharebot.fence', $1, false)")
        .bind(epoch.to_string())
        .execute(&mut old)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut old).await.unwrap();
    sqlx::query("INSERT INTO kv (key, value, updated_at) VALUES ('k', 'old', 0)")
        .execute(&mut old)
        .await
        .unwrap();
    // The takeover waits for it rather than slipping in before its commit.
    let store = db.store.clone();
    let takeover = tokio::spawn(async move { store.begin_epoch("new-leader").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !takeover.is_finished(),
        "the new epoch waits for the old write"
    );
    sqlx::query("COMMIT").execute(&mut old).await.unwrap();
    let new_epoch = tokio::time::timeout(Duration::from_secs(5), takeover)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(new_epoch, epoch + 1);
    // After it, the old epoch's writes are refused.
    let after = sqlx::query("INSERT INTO kv (key, value, updated_at) VALUES ('k2', 'old', 0)")
        .execute(&mut old)
        .await
        .unwrap_err();
    assert_eq!(
        after.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("SBF01"),
        "{after}"
    );
    let _ = old.close().await;
    db.finish().await;
}

/// One replica of the bot on the database `db_url`, named `name`, serving callbacks on
/// `listener`; Mattermost sends clicks to `public` (the load balancer's address).
async fn replica(
    world: &World,
    db_url: &str,
    name: &str,
    listener: TcpListener,
    public: &str,
) -> RunningBot {
    let env: HashMap<String, String> = [
        ("SHAREBOT_MATTERMOST__URL", world.b.site_url()),
        ("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN),
        ("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins"),
        ("SHAREBOT_SERVER__PUBLIC_URL", public),
        ("SHAREBOT_SERVER__SECRET", SIGNING),
        ("SHAREBOT_REVIEW__RECONCILE_EVERY", "1s"),
        ("SHAREBOT_DATABASE__URL", db_url),
        ("SHAREBOT_HA__TAKEOVER_AFTER", "1s"),
        ("SHAREBOT_HA__NAME", name),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::load_from(None, &env).expect("valid replica configuration");
    sharebot::domain::start(&config, fast(), Some(listener))
        .await
        .expect("replica starts")
}

/// Two replicas on one database; both send clicks to the second one's address (a load
/// balancer that picks it). The first one started is the leader.
async fn two_replicas(world: &World, db_url: &str) -> (RunningBot, RunningBot) {
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", lb.local_addr().unwrap());
    let a = replica(world, db_url, "replica-a", la, &public).await;
    let mut leading = a.leading.clone();
    tokio::time::timeout(Duration::from_secs(10), leading.wait_for(|l| *l))
        .await
        .expect("the first replica leads")
        .unwrap();
    let b = replica(world, db_url, "replica-b", lb, &public).await;
    (a, b)
}

async fn readyz(bot: &RunningBot) -> (u16, serde_json::Value) {
    let answer = reqwest::get(format!("http://{}/readyz", bot.http_addr))
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn metric(bot: &RunningBot, name: &str) -> String {
    let text = reqwest::get(format!("http://{}/metrics", bot.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn two_bot_replicas_listen_once_and_send_one_dm_per_admin() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let (a, b) = two_replicas(&world, &db.url).await;
    assert!(a.wait_connected(Duration::from_secs(10)).await);
    let channel = world.share("replicated", "Replicated").await;
    let (one, _, two, _) = both_dms(&world, "Replicated").await;
    // Several reconcile passes of both replicas later: one socket, one DM each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        world.b.hub().live_connections(),
        1,
        "one WebSocket listener"
    );
    let bot = bot_id(&world);
    for admin in [&one, &two] {
        let dms: Vec<_> = admin
            .dm_posts(&bot)
            .await
            .into_iter()
            .filter(|p| p.root_id.is_empty() && attachment_text(p).contains("Replicated"))
            .collect();
        assert_eq!(dms.len(), 1, "one review DM per admin");
    }
    assert_eq!(
        db.store.requests_for_channel(&channel).await.unwrap().len(),
        1
    );

    // The roles, as a load balancer and a scraper see them.
    let (status, body) = readyz(&a).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("leader")),
        "{body}"
    );
    assert_eq!(body["replica"], "replica-a");
    let (status, body) = readyz(&b).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("follower")),
        "{body}"
    );
    assert_eq!(metric(&a, "sharebot_leader").await, "1");
    assert_eq!(metric(&b, "sharebot_leader").await, "0");
    assert_eq!(metric(&a, "sharebot_leader_changes_total").await, "1");
    assert_eq!(metric(&b, "sharebot_leader_changes_total").await, "0");
    // `connections` names the replica that leads.
    let answer = ask_admins(&world, &one, "@sharebot connections").await;
    assert!(
        answer.contains("Leading replica") && answer.contains("`replica-a`"),
        "{answer}"
    );

    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    db.finish().await;
}

#[tokio::test]
async fn a_killed_lock_connection_hands_the_loops_to_the_other_replica_within_the_takeover_time() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let (a, b) = two_replicas(&world, &db.url).await;
    assert!(a.wait_connected(Duration::from_secs(10)).await);
    let first = db.store.leadership().await.unwrap();
    assert_eq!(first.replica, "replica-a");
    // The leader's resume point, stored for whoever leads next.
    let before = wait("the leader's resume point", || async {
        sharebot::bot::load_resume_point(&db.store).await
    })
    .await;

    let cut = std::time::Instant::now();
    assert_eq!(terminate_lock_holder(&db.url).await, 1);
    // The old leader stops its loops, and the other leads, each within the takeover time
    // (1 s here; with slack for a loaded machine).
    let mut a_leading = a.leading.clone();
    tokio::time::timeout(Duration::from_secs(5), a_leading.wait_for(|l| !*l))
        .await
        .expect("the old leader stops its loops")
        .unwrap();
    let mut b_leading = b.leading.clone();
    tokio::time::timeout(Duration::from_secs(5), b_leading.wait_for(|l| *l))
        .await
        .expect("the follower takes over")
        .unwrap();
    let gap = cut.elapsed();
    assert!(gap < Duration::from_secs(5), "took over after {gap:?}");
    assert!(b.wait_connected(Duration::from_secs(10)).await);
    let second = db.store.leadership().await.unwrap();
    assert_eq!(
        (second.replica.as_str(), second.epoch),
        ("replica-b", first.epoch + 1)
    );
    // The old leader does not try again at once: one leader, one listener.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!*a.leading.borrow() && *b.leading.borrow());
    assert_eq!(
        world.b.hub().live_connections(),
        1,
        "one WebSocket listener"
    );
    let (_, body) = readyz(&a).await;
    assert_eq!(body["role"], "follower");

    // The new leader does the leader's work: a channel shared now gets its DMs, once.
    world.share("after-failover", "After failover").await;
    let (one, _, two, _) = both_dms(&world, "After failover").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bot = bot_id(&world);
    for admin in [&one, &two] {
        let dms = admin
            .dm_posts(&bot)
            .await
            .into_iter()
            .filter(|p| p.root_id.is_empty() && attachment_text(p).contains("After failover"))
            .count();
        assert_eq!(dms, 1);
    }
    // The new leader carried on the old leader's socket: the server resumed it (same
    // connection id, events replayed from the stored sequence number), no resync needed.
    let after = wait("the new leader's resume point", || async {
        sharebot::bot::load_resume_point(&db.store)
            .await
            .filter(|p| p.next_seq > before.next_seq)
    })
    .await;
    assert_eq!(after.connection_id, before.connection_id);
    assert_eq!(metric(&b, "sharebot_websocket_resyncs_total").await, "0");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    db.finish().await;
}

#[tokio::test]
async fn a_click_answered_by_a_follower_decides_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let (leader, follower) = two_replicas(&world, &db.url).await;
    assert!(!*follower.leading.borrow());
    let channel = world.share("any-replica", "Any replica").await;
    let (one, p1, two, p2) = both_dms(&world, "Any replica").await;
    let engineering = world.b.team_id("engineering").unwrap();
    one.click(&p1.id, "team", Some(&engineering)).await;
    two.click(&p2.id, "team", Some(&engineering)).await;
    // Both admins click at once; the clicks reach the follower.
    let (x, y) = tokio::join!(
        one.click(&p1.id, "accept", None),
        two.click(&p2.id, "accept", None)
    );
    assert_eq!((x.0, y.0), (200, 200));
    dm_showing(&world, &one, "Any replica", "accepted into").await;
    dm_showing(&world, &two, "Any replica", "accepted into").await;
    assert_eq!(
        db.store.requests_for_channel(&channel).await.unwrap().len(),
        1
    );
    let (_, audit) = settled(&db.store, &channel).await;
    let decisions = audit
        .iter()
        .filter(|e| e.action == "request.accepted" || e.action == "request.rejected")
        .count();
    assert_eq!(decisions, 1, "{audit:?}");
    assert_eq!(channel_on_b(&world, &channel).await.team_id, engineering);
    // The follower answered them (the leader got none).
    let answered = |bot: &RunningBot| {
        let addr = bot.http_addr;
        async move {
            let text = reqwest::get(format!("http://{addr}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .filter(|l| l.starts_with("sharebot_callbacks_total{") && l.contains("answered"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>()
        }
    };
    assert!(
        answered(&follower).await >= 4,
        "the follower answered the clicks"
    );
    assert_eq!(answered(&leader).await, 0);
    follower.shutdown().await.unwrap();
    leader.shutdown().await.unwrap();
    db.finish().await;
}

/// A `sharebot run` process: one replica on `db_url`, named `name`, on a free local port.
struct Process {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Process {
    fn spawn(world: &World, dir: &std::path::Path, db_url: &str, name: &str) -> Process {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sharebot"));
        cmd.current_dir(dir).env_clear();
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        let child = cmd
            .arg("run")
            .env("SHAREBOT_MATTERMOST__URL", world.b.site_url())
            .env("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN)
            .env("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins")
            .env("SHAREBOT_SERVER__LISTEN", addr.to_string())
            .env("SHAREBOT_SERVER__PUBLIC_URL", format!("http://{addr}"))
            .env("SHAREBOT_SERVER__SECRET", SIGNING)
            .env("SHAREBOT_REVIEW__RECONCILE_EVERY", "1s")
            .env("SHAREBOT_DATABASE__URL", db_url)
            .env("SHAREBOT_HA__TAKEOVER_AFTER", "1s")
            .env("SHAREBOT_HA__NAME", name)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Process { child, addr }
    }

    /// The role `/readyz` says, once it answers 200.
    async fn role(&self) -> Option<String> {
        let answer = reqwest::get(format!("http://{}/readyz", self.addr))
            .await
            .ok()?;
        if answer.status() != 200 {
            return None;
        }
        let body: serde_json::Value = answer.json().await.ok()?;
        body["role"].as_str().map(str::to_string)
    }

    async fn wait_role(&self, role: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.role().await.as_deref() == Some(role) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn signal(&self, signal: &str) {
        let done = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(done.success(), "kill {signal}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_leader_process_stopped_with_sigstop_is_replaced_and_steps_down_when_it_wakes() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let a = Process::spawn(&world, dir.path(), &db.url, "proc-a");
    assert!(
        a.wait_role("leader", Duration::from_secs(30)).await,
        "the first process leads"
    );
    let b = Process::spawn(&world, dir.path(), &db.url, "proc-b");
    assert!(
        b.wait_role("follower", Duration::from_secs(30)).await,
        "the second follows"
    );
    world.share("before-stall", "Before stall").await;
    both_dms(&world, "Before stall").await;

    // The leader stalls: its lock session falls silent, PostgreSQL ends it after the takeover
    // time, and the follower leads.
    a.signal("-STOP");
    let stalled = std::time::Instant::now();
    assert!(
        b.wait_role("leader", Duration::from_secs(10)).await,
        "the follower takes over from a stalled leader"
    );
    let gap = stalled.elapsed();
    // While the old leader is still stopped, a channel arrives; the new leader asks the admins.
    world.share("during-stall", "During stall").await;
    both_dms(&world, "During stall").await;

    // The old leader wakes: it finds its lock gone and becomes a follower; its loops' writes
    // are refused meanwhile, so nothing is sent twice.
    a.signal("-CONT");
    assert!(
        a.wait_role("follower", Duration::from_secs(10)).await,
        "the woken leader steps down"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.role().await.as_deref(), Some("leader"));
    let leadership = db.store.leadership().await.unwrap();
    assert_eq!(leadership.replica, "proc-b");
    let bot = bot_id(&world);
    for name in ["sysadmin", "sysadmin2"] {
        let admin = world.admin(name).await;
        for display in ["Before stall", "During stall"] {
            let dms = admin
                .dm_posts(&bot)
                .await
                .into_iter()
                .filter(|p| p.root_id.is_empty() && attachment_text(p).contains(display))
                .count();
            assert_eq!(dms, 1, "{name}: one DM about {display}");
        }
    }
    assert_eq!(
        world.b.hub().live_connections(),
        1,
        "one WebSocket listener"
    );
    let log = std::fs::read_to_string(dir.path().join("proc-a.log")).unwrap();
    assert!(log.contains("stopped being the leader"), "{log}");
    eprintln!("takeover from a stalled leader after {gap:?}");
    drop((a, b));
    db.finish().await;
}
