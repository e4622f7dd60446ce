//! Leadership among replicas on one PostgreSQL: a session advisory lock held on a dedicated connection.
//!
//! The lock belongs to the database session, so PostgreSQL itself releases it when the
//! connection ends (process killed, connection terminated, database restarted): no table of
//! heartbeats to keep and no stale leader to expire by hand. The holder pings its connection
//! several times per takeover period and steps down at the first failed or late answer.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The advisory lock's key, the same in every replica ("sharebot" in ASCII).
pub const LOCK_KEY: i64 = 0x7368_6172_6562_6f74;

/// What this replica does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds the lock: runs the WebSocket listener and the loops.
    Leader,
    /// Serves callbacks only, and tries for the lock.
    Follower,
}

impl Role {
    /// The word `/readyz` and the log use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// A running election: its role changes as the lock is won and lost.
pub struct Election {
    /// The current role; every change is one leadership change.
    pub role: watch::Receiver<Role>,
    task: JoinHandle<()>,
}

impl Election {
    /// Ends the election: the lock connection is closed, so the lock is released.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Starts trying for the lock on `url` (a `postgres://` URL) until `stop`. A follower tries
/// every fifth of `takeover_after`, and a leader checks its connection as often, each answer
/// within that time, so a lost lock is noticed, and a free one taken, within `takeover_after`.
pub fn elect(url: String, takeover_after: Duration, mut stop: watch::Receiver<bool>) -> Election {
    let (role_tx, role) = watch::channel(Role::Follower);
    let tick = (takeover_after / 5).max(Duration::from_millis(10));
    let task = tokio::spawn(async move {
        let mut last_failure: Option<String> = None;
        loop {
            let why = hold(&url, tick, &role_tx).await;
            // A replica that just lost the lock waits a whole takeover period before trying
            // again, so a follower takes over rather than a flapping connection taking it back.
            let mut pause = tick;
            if role_tx.send_if_modified(|r| std::mem::replace(r, Role::Follower) == Role::Leader) {
                tracing::warn!(reason = %why, "stopped being the leader: the advisory lock's connection failed; loops stopped");
                pause = takeover_after;
            } else if last_failure.as_deref() != Some(why.as_str()) {
                tracing::warn!(reason = %why, "cannot reach PostgreSQL for the leader election; serving callbacks as a follower");
            }
            last_failure = Some(why);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if role_tx.send_if_modified(|r| std::mem::replace(r, Role::Follower) == Role::Leader) {
            tracing::info!("stopped being the leader: shutting down");
        }
    });
    Election { role, task }
}

/// One lock connection: tries for the lock every `tick` while a follower, pings it every
/// `tick` while the leader; returns why (the connection dropped) at the first failure.
async fn hold(url: &str, tick: Duration, role: &watch::Sender<Role>) -> String {
    match hold_until_failure(url, tick, role).await {
        Err(why) => why,
    }
}

async fn hold_until_failure(
    url: &str,
    tick: Duration,
    role: &watch::Sender<Role>,
) -> Result<std::convert::Infallible, String> {
    let mut conn = within(tick * 5, PgConnection::connect(url))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    loop {
        if *role.borrow() == Role::Leader {
            within(tick, sqlx::query("SELECT 1").execute(&mut conn))
                .await
                .map_err(|e| format!("the lock connection did not answer: {e}"))?;
        } else {
            let won: bool = within(
                tick,
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut conn),
            )
            .await
            .map_err(|e| format!("pg_try_advisory_lock: {e}"))?;
            if won {
                role.send_replace(Role::Leader);
                tracing::info!("became the leader: won PostgreSQL's advisory lock");
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// `future`'s answer, or an error when it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}
