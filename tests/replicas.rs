//! Replicas on one PostgreSQL: exactly one leader, elected with a session advisory lock, and a
//! follower that takes over when the leader's lock connection is lost.

mod support;

use std::time::Duration;

use sharebot::bot::leader::{elect, Election, Role};
use sqlx::{Connection, PgConnection};
use support::db::TestDb;
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
    let a = elect(db.url.clone(), TAKEOVER, stop.clone());
    let b = elect(db.url.clone(), TAKEOVER, stop.clone());
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
    let a = elect(db.url.clone(), TAKEOVER, stop.clone());
    let b = elect(db.url.clone(), TAKEOVER, stop.clone());
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

    // The old leader steps down and the other takes over, each within the takeover time
    // (with slack for a loaded machine).
    tokio::time::timeout(TAKEOVER * 10, old_role.wait_for(|r| *r == Role::Follower))
        .await
        .expect("the old leader steps down")
        .unwrap();
    let mut new_role = new.role.clone();
    tokio::time::timeout(TAKEOVER * 10, new_role.wait_for(|r| *r == Role::Leader))
        .await
        .expect("the follower takes over")
        .unwrap();
    assert_eq!(*old.role.borrow(), Role::Follower);
    let _ = admin.close().await;
    a.stop().await;
    b.stop().await;
    db.finish().await;
}
