//! The hub: every live and resumable connection of one instance, their `seq` numbering, dead
//! and send queues, and the fan-out of published events (`web_hub.go`, `web_conn.go`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::frames::{broadcast_json, event_body, render, Body, Broadcast};
use crate::ids::new_id;

/// Resolves a bearer token (session or bot access token) to the id of its user, if valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Handles a `user_typing` request: (user id, channel id, parent id) → whether the user may post
/// in that channel. The handler publishes the `typing` event (to the channel's members, omitting
/// the typist, data `{parent_id, user_id}`) as `PublishUserTyping` does; `false` is answered as
/// an invalid `channel_id`, like the server's permission check.
pub type TypingHandler = Arc<dyn Fn(&str, &str, &str) -> bool + Send + Sync>;

/// Events kept per connection for replay (`deadQueueSize` in `web_conn.go`).
pub const DEAD_QUEUE_SIZE: usize = 128;
/// Frames that may wait for a live socket before it counts as too slow (`sendQueueSize`).
const SEND_QUEUE_SIZE: usize = 256;
/// How often disconnected connections are swept, and how long since their last activity makes
/// them go (`inactiveConnReaperInterval` in `web_hub.go`: one constant for both).
pub const INACTIVE_CONN_REAPER_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Registry of live and resumable WebSocket connections; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    check: TokenCheck,
    server_version: String,
    hostname: Option<String>,
    typing: Mutex<Option<TypingHandler>>,
    state: Mutex<HubState>,
    /// Set while upgrades are refused ([`Hub::cut_off`]).
    cut_off: std::sync::atomic::AtomicBool,
}

struct HubState {
    /// Connections by connection id.
    conns: HashMap<String, Conn>,
    /// Distinguishes successive sockets attached to the same connection.
    next_attach: u64,
    /// The sweep's period and staleness threshold.
    reaper_interval: Duration,
    /// When the sweep ticker fires next (it starts with the hub, as the server's ticker does).
    next_sweep: Instant,
}

impl HubState {
    fn new(reaper_interval: Duration, now: Instant) -> HubState {
        let reaper_interval = reaper_interval.max(Duration::from_millis(1));
        HubState {
            conns: HashMap::new(),
            next_attach: 0,
            reaper_interval,
            next_sweep: now + reaper_interval,
        }
    }

    /// Runs every sweep whose tick has come by `now`, each as of its own tick. Every access to
    /// the state sweeps first, so a connection's state at a past tick is its state now.
    fn sweep_until(&mut self, now: Instant) {
        while self.next_sweep <= now {
            let tick = self.next_sweep;
            let stale = self.reaper_interval;
            // `RemoveInactiveConnections`: no socket attached and no activity for longer than
            // the interval. A connection that was busy until its drop therefore lives up to two
            // intervals; one idle for longer than an interval goes at the next tick, however
            // recent the drop.
            self.conns.retain(|_, conn| {
                conn.live.is_some() || tick.saturating_duration_since(conn.last_activity) <= stale
            });
            self.next_sweep = tick + stale;
        }
    }
}

/// One logical connection (the server's `WebConn`): survives socket drops until reaped, removed
/// or forgotten.
struct Conn {
    user_id: String,
    /// The seq the next event handed to a socket gets (`WebConn.Sequence`).
    next_seq: i64,
    /// The last [`DEAD_QUEUE_SIZE`] events handed to a socket (seq, frame), contiguous in seq.
    dead: VecDeque<(i64, Arc<str>)>,
    /// Events published while no socket was attached, numbered when handed to one
    /// (the server's active queue of an inactive connection).
    pending: VecDeque<Body>,
    live: Option<Live>,
    /// The session token the socket authenticated with (activity is matched on it).
    token: String,
    /// The connection's last activity (`lastUserActivityAt`): when a socket was attached, and
    /// the REST calls the server counts while one is ([`Hub::activity`]).
    last_activity: Instant,
}

/// The socket currently attached to a connection.
struct Live {
    attach: u64,
    tx: mpsc::Sender<Arc<str>>,
    /// Sending on this closes the socket with a close frame; dropping it drops the socket.
    close: oneshot::Sender<()>,
}

/// What a socket task gets when it is attached to a connection.
pub(super) struct Attached {
    pub user_id: String,
    pub conn_id: String,
    pub attach: u64,
    pub tx: mpsc::Sender<Arc<str>>,
    pub rx: mpsc::Receiver<Arc<str>>,
    pub close: oneshot::Receiver<()>,
}

/// How a socket task is told to stop.
pub(super) enum Stop {
    /// The socket is simply dropped (as when the network goes away).
    Drop,
    /// A close frame is sent first (the server closing a connection it removed).
    Close,
}

impl Conn {
    fn new(user_id: &str, token: &str) -> Conn {
        Conn {
            user_id: user_id.to_owned(),
            next_seq: 0,
            dead: VecDeque::new(),
            pending: VecDeque::new(),
            live: None,
            token: token.to_owned(),
            last_activity: Instant::now(),
        }
    }

    /// Numbers `body`, keeps it in the dead queue and hands it to the socket.
    /// False when the socket's queue is full.
    fn send(&mut self, body: &str) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = render(body, seq);
        self.dead.push_back((seq, frame.clone()));
        while self.dead.len() > DEAD_QUEUE_SIZE {
            self.dead.pop_front();
        }
        match &self.live {
            Some(live) => live.tx.try_send(frame).is_ok(),
            None => true,
        }
    }

    /// Queues an event for this connection; false when it must be removed (queue full).
    fn deliver(&mut self, body: Body) -> bool {
        if self.live.is_some() {
            return self.send(&body);
        }
        if self.pending.len() >= SEND_QUEUE_SIZE {
            return false;
        }
        self.pending.push_back(body);
        true
    }

    /// Where a resume at `seq` starts in the dead queue: `Some(index)` when `seq` was sent and is
    /// still buffered, `Some(len)` when nothing was missed, `None` on loss (`isInDeadQueue`,
    /// `hasMsgLoss`).
    fn resume_index(&self, seq: i64) -> Option<usize> {
        if let Some(index) = self.dead.iter().position(|(s, _)| *s == seq) {
            return Some(index);
        }
        match self.dead.back() {
            None => Some(0),
            Some((last, _)) if *last == seq - 1 => Some(self.dead.len()),
            Some(_) => None,
        }
    }

    /// Detaches the live socket (if any) and makes its task stop.
    fn detach(&mut self, stop: Stop) {
        if let Some(live) = self.live.take() {
            if let Stop::Close = stop {
                let _ = live.close.send(());
            }
        }
    }
}

impl Hub {
    /// A hub that authenticates connections with `check` and reports `server_version` in `hello`.
    pub fn new(server_version: impl Into<String>, check: TokenCheck) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                check,
                server_version: server_version.into(),
                hostname: hostname(),
                typing: Mutex::new(None),
                state: Mutex::new(HubState::new(INACTIVE_CONN_REAPER_INTERVAL, Instant::now())),
                cut_off: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Changes the sweep's period and threshold (tests shorten the server's five minutes); the
    /// sweep ticker restarts from now.
    pub fn set_reaper_interval(&self, interval: Duration) {
        let mut state = self.lock();
        let now = Instant::now();
        let conns = std::mem::take(&mut state.conns);
        let next_attach = state.next_attach;
        *state = HubState::new(interval, now);
        state.conns = conns;
        state.next_attach = next_attach;
    }

    /// A REST call the server counts as the user's activity (`UpdateLastActivityAtIfNeeded`:
    /// creating a post, viewing a channel) refreshes the connections with a socket attached
    /// that authenticated with the same token; disconnected ones are left as they are.
    pub fn activity(&self, token: &str) {
        let Some(user_id) = self.check_token(token) else {
            return;
        };
        let now = Instant::now();
        let mut state = self.lock();
        for conn in state.conns.values_mut() {
            if conn.live.is_some() && conn.user_id == user_id && conn.token == token {
                conn.last_activity = now;
            }
        }
    }

    /// Connections the hub holds, with or without a socket (resumable ones included).
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }

    /// Cuts every socket off and refuses upgrades while `cut` holds (the network between the
    /// clients and the server is down); the connections stay until swept.
    pub fn cut_off(&self, cut: bool) {
        self.inner
            .cut_off
            .store(cut, std::sync::atomic::Ordering::SeqCst);
        if cut {
            self.drop_all();
        }
    }

    pub(super) fn is_cut_off(&self) -> bool {
        self.inner.cut_off.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sends `event` to every connection (live, or disconnected but resumable) of each user in
    /// `users`. `data` builds the event's `data` per recipient user id (e.g. `mentions` only for
    /// the mentioned user).
    ///
    /// As on the real server, a non-empty `broadcast.user_id` restricts delivery to that user and
    /// users in `broadcast.omit_users` get nothing. A connection whose queue is full (a live
    /// socket that cannot keep up, or 256 events waiting for a disconnected one) is closed and
    /// removed, so its client starts afresh (`closeAndRemoveConn`).
    pub fn publish(
        &self,
        event: &str,
        users: &[String],
        broadcast: &Broadcast,
        data: &dyn Fn(&str) -> Value,
    ) {
        let wanted: HashSet<&str> = users
            .iter()
            .map(String::as_str)
            .filter(|user| broadcast.user_id.is_empty() || *user == broadcast.user_id)
            .filter(|user| {
                !broadcast
                    .omit_users
                    .as_ref()
                    .is_some_and(|omit| omit.contains_key(*user))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let broadcast = broadcast_json(broadcast);
        let mut per_user: HashMap<String, Body> = HashMap::new();
        let mut state = self.lock();
        let mut removed = Vec::new();
        for (conn_id, conn) in state.conns.iter_mut() {
            if !wanted.contains(conn.user_id.as_str()) {
                continue;
            }
            let body = per_user
                .entry(conn.user_id.clone())
                .or_insert_with(|| event_body(event, data(&conn.user_id), broadcast.clone()))
                .clone();
            if !conn.deliver(body) {
                conn.detach(Stop::Close);
                removed.push(conn_id.clone());
            }
        }
        for conn_id in removed {
            state.conns.remove(&conn_id);
        }
    }

    /// Closes every open WebSocket at once (fault injection); the connections stay resumable.
    pub fn drop_all(&self) {
        let mut state = self.lock();
        for conn in state.conns.values_mut() {
            conn.detach(Stop::Drop);
        }
    }

    /// Forgets every resumable connection, as after a server restart or a long outage.
    pub fn forget_sessions(&self) {
        let mut state = self.lock();
        for conn in state.conns.values_mut() {
            conn.detach(Stop::Drop);
        }
        state.conns.clear();
    }

    /// Sets what `user_typing` requests do (without one they are only validated).
    pub fn on_typing(&self, handler: TypingHandler) {
        *self
            .inner
            .typing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }

    pub(super) fn typing_handler(&self) -> Option<TypingHandler> {
        self.inner
            .typing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Number of sockets currently attached (for tests and diagnostics).
    pub fn live_connections(&self) -> usize {
        self.lock()
            .conns
            .values()
            .filter(|conn| conn.live.is_some())
            .count()
    }

    /// Users with at least one socket attached.
    pub(super) fn online_users(&self) -> HashSet<String> {
        self.lock()
            .conns
            .values()
            .filter(|conn| conn.live.is_some())
            .map(|conn| conn.user_id.clone())
            .collect()
    }

    /// The server version `hello` reports.
    pub(super) fn server_version(&self) -> &str {
        &self.inner.server_version
    }

    /// The state, swept up to now.
    fn lock(&self) -> MutexGuard<'_, HubState> {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.sweep_until(Instant::now());
        state
    }

    pub(super) fn check_token(&self, token: &str) -> Option<String> {
        (self.inner.check)(token)
    }

    /// Attaches a new socket of `user_id`, resuming `resume` = (connection id, next seq) when
    /// that disconnected connection exists; otherwise a fresh connection with a `hello`.
    pub(super) fn attach(
        &self,
        user_id: &str,
        token: &str,
        resume: Option<(&str, i64)>,
    ) -> Attached {
        let mut state = self.lock();
        state.next_attach += 1;
        let attach = state.next_attach;
        // Room for a full dead queue replay followed by a full pending queue.
        let (tx, rx) = mpsc::channel(DEAD_QUEUE_SIZE + SEND_QUEUE_SIZE);
        let (close_tx, close) = oneshot::channel();
        let live = Live {
            attach,
            tx: tx.clone(),
            close: close_tx,
        };

        // Only a connection whose socket is gone can be taken over (RemoveInactiveByConnectionID).
        let found = resume.and_then(|(id, seq)| {
            let conn = state.conns.get(id)?;
            (conn.user_id == user_id && conn.live.is_none()).then(|| (id.to_owned(), seq))
        });
        let (conn_id, mut conn) = match found.and_then(|(id, seq)| {
            let conn = state.conns.remove(&id)?;
            Some((id, seq, conn))
        }) {
            Some((old_id, seq, mut conn)) => match conn.resume_index(seq) {
                Some(index) => {
                    // Replay what the client missed, with the seqs it had (drainDeadQueue).
                    for (_, frame) in conn.dead.iter().skip(index) {
                        let _ = tx.try_send(frame.clone());
                    }
                    conn.live = Some(live);
                    (old_id, conn)
                }
                None => {
                    // Lossy resume: same connection, new identity, hello at seq 0 (writePump).
                    conn.dead.clear();
                    conn.next_seq = 0;
                    conn.live = Some(live);
                    let conn_id = new_id();
                    self.hello(&mut conn, &conn_id);
                    (conn_id, conn)
                }
            },
            None => {
                let conn_id = new_id();
                let mut conn = Conn::new(user_id, token);
                conn.live = Some(live);
                self.hello(&mut conn, &conn_id);
                (conn_id, conn)
            }
        };
        // Every socket starts a new `WebConn`, whose last activity is its creation.
        conn.last_activity = Instant::now();
        conn.token = token.to_owned();
        // What waited while no socket was attached goes out now, numbered on the way.
        while let Some(body) = conn.pending.pop_front() {
            conn.send(&body);
        }
        state.conns.insert(conn_id.clone(), conn);
        Attached {
            user_id: user_id.to_owned(),
            conn_id,
            attach,
            tx,
            rx,
            close,
        }
    }

    /// Sends the `hello` event (it takes a seq and is kept in the dead queue like any event).
    fn hello(&self, conn: &mut Conn, conn_id: &str) {
        let mut data = json!({
            "server_version": self.inner.server_version,
            "connection_id": conn_id,
        });
        if let Some(hostname) = &self.inner.hostname {
            data["server_hostname"] = json!(hostname);
        }
        let broadcast = broadcast_json(&Broadcast {
            user_id: conn.user_id.clone(),
            ..Broadcast::default()
        });
        conn.send(&event_body("hello", data, broadcast));
    }

    /// Marks the connection disconnected if `attach` is still its socket.
    pub(super) fn detach(&self, conn_id: &str, attach: u64) {
        let mut state = self.lock();
        if let Some(conn) = state.conns.get_mut(conn_id) {
            if conn.live.as_ref().is_some_and(|live| live.attach == attach) {
                conn.detach(Stop::Drop);
            }
        }
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| Some("sandbox".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disconnected connection that has sent seqs `0..sent`.
    fn conn_with(sent: i64) -> Conn {
        let mut conn = Conn::new("u", "t");
        for n in 0..sent {
            conn.send(&event_body("e", json!(n), json!({})));
        }
        conn
    }

    #[test]
    fn resume_needs_the_asked_seq_in_the_dead_queue_or_no_loss() {
        let conn = conn_with(10);
        assert_eq!(conn.resume_index(0), Some(0));
        assert_eq!(conn.resume_index(9), Some(9));
        assert_eq!(
            conn.resume_index(10),
            Some(10),
            "nothing missed is lossless"
        );
        assert_eq!(conn.resume_index(11), None);
        assert_eq!(conn.resume_index(-1), None);
    }

    #[test]
    fn the_dead_queue_keeps_only_its_size() {
        let conn = conn_with(200);
        assert_eq!(conn.dead.len(), DEAD_QUEUE_SIZE);
        let oldest = 200 - DEAD_QUEUE_SIZE as i64;
        assert_eq!(conn.resume_index(oldest - 1), None);
        assert_eq!(conn.resume_index(oldest), Some(0));
    }

    /// A connection without a socket, last active at `active`.
    fn idle_since(active: Instant) -> Conn {
        let mut conn = Conn::new("u", "t");
        conn.last_activity = active;
        conn
    }

    #[test]
    fn the_sweep_runs_at_its_ticks_and_measures_from_the_last_activity() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let at = |minutes: u64, seconds: u64| {
            start + minute * minutes as u32 + Duration::from_secs(seconds)
        };
        let mut state = HubState::new(5 * minute, start);
        // Idle since the start, dropped at 9:59; busy until its drop at 9:00.
        state.conns.insert("idle".into(), idle_since(start));
        state.conns.insert("busy".into(), idle_since(at(9, 0)));
        // A live socket is never swept, however old its activity.
        let (tx, _rx) = mpsc::channel(1);
        let (close, _close_rx) = oneshot::channel();
        let mut live = idle_since(start);
        live.live = Some(Live {
            attach: 1,
            tx,
            close,
        });
        state.conns.insert("live".into(), live);

        // At 5:00 the idle one is exactly five minutes old: not more, so it stays.
        state.sweep_until(at(9, 59));
        assert_eq!(state.conns.len(), 3);
        // The 10:00 tick takes the idle one, a second after its drop.
        state.sweep_until(at(10, 0));
        assert!(!state.conns.contains_key("idle"));
        assert!(state.conns.contains_key("busy"));
        // The busy one goes at the first tick more than five minutes after its activity.
        state.sweep_until(at(14, 59));
        assert!(state.conns.contains_key("busy"));
        state.sweep_until(at(15, 0));
        assert!(!state.conns.contains_key("busy"));
        state.sweep_until(at(60, 0));
        assert_eq!(state.conns.keys().collect::<Vec<_>>(), ["live"]);
    }

    #[test]
    fn a_disconnected_connection_holds_at_most_the_send_queue() {
        let mut conn = conn_with(1);
        for _ in 0..SEND_QUEUE_SIZE {
            assert!(conn.deliver(Arc::from("{")));
        }
        assert!(!conn.deliver(Arc::from("{")));
    }
}
