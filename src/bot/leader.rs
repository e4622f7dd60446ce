//! Leadership among replicas on one PostgreSQL: a session advisory lock held on a dedicated connection.
//!
//! The lock belongs to the database session, so PostgreSQL itself releases it when the
//! connection ends (process killed, connection terminated, database restarted): no table of
//! heartbeats to keep and no stale leader to expire by hand. The holder pings its connection
//! several times per takeover period and steps down at the first failed or late answer.
//! The lock session ends itself when it idles longer than a takeover period (a paused
//! process), and each winner raises the epoch that fences the old leader's writes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
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
    epoch: Arc<AtomicI64>,
    task: JoinHandle<()>,
}

impl Election {
    /// The epoch this replica raised when it last became the leader (set before the role
    /// turns to leader); 0 before that.
    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Reads [`Election::epoch`] from elsewhere (the task that starts the leader's loops).
    pub fn epochs(&self) -> Epochs {
        Epochs(self.epoch.clone())
    }

    /// Ends the election: the lock connection is closed, so the lock is released.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Starts trying for the lock on `url` (a `postgres://` URL) until `stop`, as the replica
/// named `replica`. A follower tries every fifth of `takeover_after`, and a leader checks its
/// connection as often, each answer within that time, so a lost lock is noticed, and a free
/// one taken, within `takeover_after`.
pub fn elect(
    url: String,
    takeover_after: Duration,
    replica: String,
    mut stop: watch::Receiver<bool>,
) -> Election {
    let (role_tx, role) = watch::channel(Role::Follower);
    let tick = (takeover_after / 5).max(Duration::from_millis(10));
    let epoch = Arc::new(AtomicI64::new(0));
    let won = Won {
        replica,
        epoch: epoch.clone(),
        takeover_after,
    };
    let task = tokio::spawn(async move {
        let mut last_failure: Option<String> = None;
        loop {
            let why = hold(&url, tick, &role_tx, &won).await;
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
    Election { role, epoch, task }
}

/// The epoch of an election, readable by another task.
#[derive(Clone, Debug, Default)]
pub struct Epochs(Arc<AtomicI64>);

impl Epochs {
    /// A fixed epoch (SQLite: the one process leads, from start-up).
    pub fn fixed(epoch: i64) -> Epochs {
        Epochs(Arc::new(AtomicI64::new(epoch)))
    }

    /// The epoch raised when this replica last became the leader.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a replica does when it wins the lock: raise the epoch, as `replica`.
struct Won {
    replica: String,
    epoch: Arc<AtomicI64>,
    takeover_after: Duration,
}

/// One lock connection: tries for the lock every `tick` while a follower, pings it every
/// `tick` while the leader; returns why (the connection dropped) at the first failure.
async fn hold(url: &str, tick: Duration, role: &watch::Sender<Role>, won: &Won) -> String {
    match hold_until_failure(url, tick, role, won).await {
        Err(why) => why,
    }
}

async fn hold_until_failure(
    url: &str,
    tick: Duration,
    role: &watch::Sender<Role>,
    won: &Won,
) -> Result<std::convert::Infallible, String> {
    let mut conn = within(tick * 5, PgConnection::connect(url))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // A paused process (SIGSTOP, a frozen VM) pings no more: the server ends its session after
    // some silence (see `idle_limit`), which releases the lock for a follower. (PostgreSQL 14 and
    // later; on older servers only a dropped connection releases it.)
    let idle = format!(
        "{}ms",
        idle_limit(won.takeover_after, tick).as_millis().max(1)
    );
    if let Err(e) = sqlx::query("SELECT set_config('idle_session_timeout', $1, false)")
        .bind(&idle)
        .execute(&mut conn)
        .await
    {
        tracing::debug!("idle_session_timeout is not available ({e}): a paused leader keeps the lock until its connection drops");
    }
    loop {
        if *role.borrow() == Role::Leader {
            within(tick, sqlx::query("SELECT 1").execute(&mut conn))
                .await
                .map_err(|e| format!("the lock connection did not answer: {e}"))?;
        } else {
            let got: bool = within(
                tick,
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut conn),
            )
            .await
            .map_err(|e| format!("pg_try_advisory_lock: {e}"))?;
            if got {
                // The new epoch waits for the old leader's fenced writes in flight, then
                // refuses the rest of them.
                let epoch: i64 = within(
                    won_limit(won),
                    sqlx::query_scalar(
                        "UPDATE leader_epoch SET epoch = epoch + 1, replica = $1, since = $2 WHERE id = 1 RETURNING epoch",
                    )
                    .bind(&won.replica)
                    .bind(crate::ids::now_ms())
                    .fetch_one(&mut conn),
                )
                .await
                .map_err(|e| format!("won the lock but cannot raise the leader epoch: {e}"))?;
                won.epoch.store(epoch, Ordering::SeqCst);
                // The lock is free only once the old leader's session has ended, and its
                // next ping (at most a tick away) then fails at once. It is fenced already;
                // waiting that long before leading means two replicas never both lead.
                tokio::time::sleep(step_down_within(tick)).await;
                within(tick, sqlx::query("SELECT 1").execute(&mut conn))
                    .await
                    .map_err(|e| format!("the lock connection did not answer: {e}"))?;
                role.send_replace(Role::Leader);
                tracing::info!(epoch, replica = %won.replica, "became the leader: won PostgreSQL's advisory lock");
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// The longest a leader takes to notice that its lock session has ended (the lock is
/// free): a tick between pings, whose next one fails at once, and half a tick of margin.
fn step_down_within(tick: Duration) -> Duration {
    tick + tick / 2
}

/// How long the lock session of a paused leader lives without a ping: what is left of the
/// takeover period once a follower has tried (a tick) and waited (see [`step_down_within`]),
/// so a paused leader, too, is replaced within `takeover_after`. A running leader pings every
/// tick, well within it.
fn idle_limit(takeover_after: Duration, tick: Duration) -> Duration {
    takeover_after.saturating_sub(tick + step_down_within(tick))
}

/// How long raising the epoch may wait for the old leader's writes in flight (a paused one's
/// transaction is ended by the server after a takeover period).
fn won_limit(won: &Won) -> Duration {
    won.takeover_after * 2
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
