//! The bot process: start-up checks, the HTTP server, the WebSocket listener and the domain,
//! wired together, and a clean stop.

mod error;
pub mod leader;
mod listener;
mod single;
mod startup;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::BotError;
pub use leader::Role;
pub use listener::{load_resume_point, Domain, RESUME_KEY};
pub use startup::Identity;

use crate::config::{Config, Dialect};
use crate::http::{self, AppState, MattermostLink};
use crate::mattermost::{Client, ClientOptions, WsConfig, WsOptions};
use crate::metrics::Metrics;
use crate::store::Store;

/// Tuning that tests shorten; production uses the defaults.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub client: ClientOptions,
    pub websocket: WsOptions,
    /// How often the resume point is written at most.
    pub resume_flush: Duration,
    /// How long a reject waits for its notice to reach the other organization before it
    /// stops the channel syncing anyway.
    pub notice_sync_wait: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            client: ClientOptions::default(),
            websocket: WsOptions::default(),
            resume_flush: Duration::from_millis(500),
            notice_sync_wait: Duration::from_secs(15),
        }
    }
}

/// What the domain is built from: the one Mattermost client (one shared 429 gate), the
/// store, the bot's identity and places, and the configuration.
pub struct Setup<'a> {
    pub client: Client,
    pub store: Store,
    pub identity: &'a Identity,
    pub config: &'a Config,
    pub tuning: &'a Tuning,
    /// The bot's metrics, for the domain's own.
    pub metrics: Metrics,
}

/// A started bot.
pub struct RunningBot {
    /// Where the HTTP server listens.
    pub http_addr: SocketAddr,
    pub identity: Identity,
    pub metrics: Metrics,
    pub store: Store,
    /// The Mattermost link state that `/readyz` reports (the leader's WebSocket).
    pub link: watch::Receiver<MattermostLink>,
    /// This replica's role: elected on PostgreSQL, always the leader on SQLite.
    pub role: watch::Receiver<Role>,
    /// True while the leader's listener and loops run here (what `/readyz` and
    /// `sharebot_leader` say).
    pub leading: watch::Receiver<bool>,
    /// This replica's name (`ha.name`).
    pub replica: String,
    stop: watch::Sender<bool>,
    halt: watch::Sender<Halt>,
    http: JoinHandle<std::io::Result<()>>,
    supervisor: JoinHandle<()>,
    election: Option<leader::Election>,
    election_stop: watch::Sender<bool>,
    /// SQLite's role, fixed at leader for the process's life.
    _fixed_role: Option<watch::Sender<Role>>,
    /// SQLite's one-process lock, released when the bot stops.
    _sqlite_lock: Option<single::SqliteLock>,
}

/// Starts the bot with a given domain (tests use one that records what arrives).
pub async fn start_with_domain<D: Domain>(
    config: &Config,
    tuning: Tuning,
    domain: Arc<D>,
) -> Result<RunningBot, BotError> {
    start_with(config, tuning, None, move |_| domain).await
}

/// Starts the bot: database, Mattermost checks, the domain built from `build`, HTTP server
/// (callbacks, on every replica), and on the leader only the WebSocket listener and the
/// domain's background work. On PostgreSQL the leader is elected (see [`leader`]); on SQLite
/// the one process leads.
pub async fn start_with<D: Domain>(
    config: &Config,
    tuning: Tuning,
    listener: Option<TcpListener>,
    build: impl FnOnce(Setup<'_>) -> Arc<D>,
) -> Result<RunningBot, BotError> {
    let metrics = Metrics::new();
    let mut client_options = tuning.client.clone();
    client_options.observer = Some(Arc::new(metrics.clone()));
    let client = Client::new(
        &config.mattermost.url,
        config.mattermost.token.expose(),
        client_options,
    )
    .map_err(|source| BotError::Mattermost {
        doing: "set up a client",
        url: config.mattermost.url.clone(),
        source,
    })?;

    // Before the database is touched: a second process on one SQLite file is refused.
    let sqlite_lock = single::acquire(&config.database).map_err(BotError::Setup)?;
    let store = Store::open(&config.database).await?;

    let identity = startup::verify(&client, config).await?;
    tracing::info!(
        bot = %identity.user.username,
        admin_channel = %config.mattermost.admin_channel,
        inbox_team = %identity.inbox_team.name,
        "Mattermost checks passed"
    );

    let domain = build(Setup {
        client: client.clone(),
        store: store.clone(),
        identity: &identity,
        config,
        tuning: &tuning,
        metrics: metrics.clone(),
    });

    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.server.listen)
            .await
            .map_err(|source| BotError::Listen {
                addr: config.server.listen.to_string(),
                source,
            })?,
    };
    let http_addr = listener.local_addr().map_err(|source| BotError::Listen {
        addr: config.server.listen.to_string(),
        source,
    })?;
    let replica = config.ha.name.clone();
    let (stop, stop_rx) = watch::channel(false);
    let (link_tx, link) = watch::channel(MattermostLink::Disconnected);
    let (leading_tx, leading) = watch::channel(false);
    let router = http::router(AppState {
        store: store.clone(),
        mattermost: link.clone(),
        metrics: metrics.clone(),
        leading: leading.clone(),
        replica: Arc::from(replica.as_str()),
        callbacks: domain.clone().callbacks(),
    });
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(http::serve(listener, router, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    tracing::info!(listen = %http_addr, public_url = %config.server.public_url, replica = %replica, "HTTP server listening");

    // Who leads: an election among the replicas on PostgreSQL; the one process on SQLite.
    // The election ends after the leader's work (at shutdown the loops finish first, then the
    // lock is given up).
    let (election_stop, election_stop_rx) = watch::channel(false);
    let (election, fixed_role, role, epochs) = match config.database.dialect {
        Dialect::Postgres => {
            let election = leader::elect(
                config.database.url.expose().to_string(),
                config.ha.takeover_after,
                replica.clone(),
                election_stop_rx,
            );
            tracing::info!(takeover_after = ?config.ha.takeover_after, "replicas on PostgreSQL: serving callbacks, and trying to lead");
            let (role, epochs) = (election.role.clone(), election.epochs());
            (Some(election), None, role, epochs)
        }
        Dialect::Sqlite => {
            let epoch = store.begin_epoch(&replica).await?;
            let (fixed, role) = watch::channel(Role::Leader);
            (None, Some(fixed), role, leader::Epochs::fixed(epoch))
        }
    };
    let (halt, halt_rx) = watch::channel(Halt::Run);
    let supervisor = tokio::spawn(supervise(
        Leading {
            domain,
            client,
            store: store.clone(),
            config: config.clone(),
            identity: identity.clone(),
            tuning,
            metrics: metrics.clone(),
            link: link_tx,
            leading: leading_tx,
            first_connection: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        },
        role.clone(),
        epochs,
        halt_rx,
    ));

    Ok(RunningBot {
        http_addr,
        identity,
        metrics,
        store,
        link,
        role,
        leading,
        replica,
        stop,
        halt,
        http,
        supervisor,
        election,
        election_stop,
        _fixed_role: fixed_role,
        _sqlite_lock: sqlite_lock,
    })
}

/// How the bot is asked to end the leader's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    Run,
    /// Finish in-flight work and save the resume point (shutdown).
    Stop,
    /// Stop at once, as a killed process would.
    Kill,
}

/// What a term of leadership is started from.
struct Leading<D: Domain> {
    /// The callbacks' domain; each term runs [`Domain::for_leader`] of it.
    domain: Arc<D>,
    client: Client,
    store: Store,
    config: Config,
    identity: Identity,
    tuning: Tuning,
    metrics: Metrics,
    link: watch::Sender<MattermostLink>,
    leading: watch::Sender<bool>,
    /// No connection made yet in this process (its places were just checked at start-up).
    first_connection: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs the leader's work while this replica leads: starts a term when the lock is won, ends
/// it at once when the lock is lost (before another replica can win it), until halted.
async fn supervise<D: Domain>(
    leading: Leading<D>,
    mut role: watch::Receiver<Role>,
    epochs: leader::Epochs,
    mut halt: watch::Receiver<Halt>,
) {
    let mut term: Option<Term> = None;
    let mut retry = false;
    loop {
        let now = *role.borrow_and_update();
        let epoch = epochs.get();
        match (now, &term) {
            (Role::Leader, Some(t)) if t.epoch == epoch => {}
            (Role::Leader, _) => {
                if let Some(old) = term.take() {
                    leading.end(old, Halt::Kill, "a newer epoch began").await;
                }
                match leading.begin(epoch).await {
                    Ok(t) => {
                        retry = false;
                        term = Some(t);
                    }
                    Err(err) => {
                        tracing::error!(
                            epoch,
                            "cannot start the leader's loops (tried again shortly): {err}"
                        );
                        retry = true;
                    }
                }
            }
            (Role::Follower, Some(_)) => {
                if let Some(old) = term.take() {
                    leading.end(old, Halt::Kill, "the lock was lost").await;
                }
            }
            (Role::Follower, None) => {}
        }
        let pause = async {
            if retry {
                tokio::time::sleep(Duration::from_millis(500)).await
            } else {
                std::future::pending().await
            }
        };
        let ended = tokio::select! {
            changed = role.changed() => changed.is_err(),
            _ = halt.wait_for(|h| *h != Halt::Run) => false,
            _ = pause => false,
        };
        if ended {
            // The election ended (shutdown): wait for the halt.
            let _ = halt.wait_for(|h| *h != Halt::Run).await;
        }
        let how = *halt.borrow();
        if how != Halt::Run {
            if let Some(old) = term.take() {
                leading.end(old, how, "shutting down").await;
            }
            return;
        }
    }
}

impl<D: Domain> Leading<D> {
    /// Starts the leader's work for `epoch`: a store whose writes the database refuses once
    /// another replica leads (PostgreSQL), the WebSocket resumed from the stored resume point
    /// (the previous leader's socket, so the server replays what was missed; when it cannot,
    /// the listener reconciles), the consumer, the resume point's flusher and the loops.
    async fn begin(&self, epoch: i64) -> Result<Term, crate::store::StoreError> {
        let fenced = self.config.database.dialect == Dialect::Postgres;
        let store = if fenced {
            Store::connect_fenced(&self.config.database, epoch, self.config.ha.takeover_after)
                .await?
        } else {
            self.store.clone()
        };
        let domain = self.domain.clone().for_leader(store.clone());
        let (stop, stop_rx) = watch::channel(false);
        let resume_from = load_resume_point(&store).await;
        match &resume_from {
            Some(point) => {
                tracing::info!(epoch, connection_id = %point.connection_id, next_seq = point.next_seq, "leading: resuming the WebSocket from the stored resume point")
            }
            None => tracing::info!(epoch, "leading: no stored resume point, a fresh WebSocket"),
        }
        let slot = listener::ResumeSlot::default();
        let mut ws = self.client.websocket(
            WsConfig {
                options: self.tuning.websocket.clone(),
                resume_from,
                on_resume_point: None,
                checkpoints: true,
            },
            stop_rx.clone(),
        );
        // The socket's state and the places check on each fresh connection make `/readyz`.
        let (socket_tx, socket_link) = watch::channel(MattermostLink::Disconnected);
        let mirror = listener::mirror_state(ws.state, socket_tx);
        let (places_tx, places) = watch::channel(None);
        let (messages_tx, messages) = tokio::sync::mpsc::channel(64);
        let helpers = vec![
            mirror,
            tokio::spawn(combine_link(socket_link, places, self.link.clone())),
            tokio::spawn(recheck_places(
                ws.messages,
                messages_tx,
                self.client.clone(),
                self.config.clone(),
                self.identity.clone(),
                places_tx,
                self.first_connection.clone(),
            )),
        ];
        ws.messages = messages;
        let background = domain.clone().background(stop_rx.clone());
        let consumer = tokio::spawn(listener::consume(
            ws.messages,
            domain,
            slot.clone(),
            self.metrics.clone(),
        ));
        let flusher = listener::flusher(store.clone(), slot, self.tuning.resume_flush, stop_rx);
        self.leading.send_replace(true);
        self.metrics.leader(true);
        tracing::info!(epoch, replica = %self.config.ha.name, "leading: the WebSocket listener and the loops run here");
        Ok(Term {
            epoch,
            stop,
            websocket: Some(ws.task),
            consumer: Some(consumer),
            flusher: Some(flusher),
            background,
            helpers,
            store: fenced.then_some(store),
        })
    }

    /// Ends a term: at once (`Kill`: the lock was lost, or the process is killed) or letting
    /// in-flight work finish and saving the resume point (`Stop`).
    async fn end(&self, mut term: Term, how: Halt, why: &str) {
        self.leading.send_replace(false);
        self.metrics.leader(false);
        if how == Halt::Kill {
            term.abort();
        } else {
            term.stop.send_replace(true);
        }
        for task in [term.websocket.take(), term.consumer.take()]
            .into_iter()
            .flatten()
        {
            let _ = task.await;
        }
        if let Some(background) = term.background.take() {
            let _ = background.await;
        }
        if let Some(flusher) = term.flusher.take() {
            let _ = flusher.await;
        }
        for helper in std::mem::take(&mut term.helpers) {
            helper.abort();
            let _ = helper.await;
        }
        self.link.send_replace(MattermostLink::Disconnected);
        if let Some(store) = term.store.take() {
            // In the background: work spawned by the loops may still hold a connection.
            drop(tokio::spawn(async move { store.close().await }));
        }
        tracing::info!(
            epoch = term.epoch,
            reason = why,
            "stopped leading: the WebSocket listener and the loops stopped here"
        );
    }
}

/// One term of leadership: the leader's tasks, aborted when dropped.
struct Term {
    epoch: i64,
    stop: watch::Sender<bool>,
    websocket: Option<JoinHandle<()>>,
    consumer: Option<JoinHandle<()>>,
    flusher: Option<JoinHandle<()>>,
    background: Option<JoinHandle<()>>,
    helpers: Vec<JoinHandle<()>>,
    /// The fenced store (PostgreSQL), closed when the term ends.
    store: Option<Store>,
}

impl Term {
    fn abort(&self) {
        let tasks = [
            &self.websocket,
            &self.consumer,
            &self.flusher,
            &self.background,
        ];
        for task in tasks.into_iter().flatten() {
            task.abort();
        }
        for helper in &self.helpers {
            helper.abort();
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Passes the listener's messages on, and on every fresh (not resumed) connection after the
/// first re-reads the bot's places before anything else is handled: a server rebuilt or
/// restored under the running bot must not leave it ready with ids that no longer exist.
async fn recheck_places(
    mut from: tokio::sync::mpsc::Receiver<crate::mattermost::WsMessage>,
    to: tokio::sync::mpsc::Sender<crate::mattermost::WsMessage>,
    client: Client,
    config: Config,
    identity: Identity,
    places: watch::Sender<Option<String>>,
    first_connection: Arc<std::sync::atomic::AtomicBool>,
) {
    while let Some(message) = from.recv().await {
        if let crate::mattermost::WsMessage::Connected { resumed, .. } = &message {
            let first = first_connection.swap(false, std::sync::atomic::Ordering::SeqCst);
            if !*resumed && !first {
                let problem = startup::recheck(&client, &config, &identity).await;
                if let Some(why) = &problem {
                    tracing::error!("{why}");
                }
                places.send_replace(problem);
            }
        }
        if to.send(message).await.is_err() {
            break;
        }
    }
}

/// `/readyz`'s Mattermost state: the socket's, unless it is connected and a place is gone.
async fn combine_link(
    mut socket: watch::Receiver<MattermostLink>,
    mut places: watch::Receiver<Option<String>>,
    link: watch::Sender<MattermostLink>,
) {
    loop {
        let now = match (
            socket.borrow_and_update().clone(),
            places.borrow_and_update().clone(),
        ) {
            (MattermostLink::Connected, Some(why)) => MattermostLink::PlacesGone(why),
            (state, _) => state,
        };
        link.send_replace(now);
        tokio::select! {
            changed = socket.changed() => if changed.is_err() { break },
            changed = places.changed() => if changed.is_err() { break },
        }
    }
    link.send_replace(MattermostLink::Disconnected);
}

impl RunningBot {
    /// Waits until the WebSocket to Mattermost is up (as `/readyz` reports it), for at most
    /// `within`; false when it is not by then.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let mut link = self.link.clone();
        let connected =
            tokio::time::timeout(within, link.wait_for(|l| *l == MattermostLink::Connected)).await;
        matches!(connected, Ok(Ok(_)))
    }

    /// Stops at once, as a killed process would: no in-flight work is finished, nothing is
    /// flushed, the database is left as it is, the lock connection dropped (tests use it to
    /// show nothing is lost).
    pub async fn kill(self) {
        self.http.abort();
        self.halt.send_replace(Halt::Kill);
        let _ = self.supervisor.await;
        if let Some(election) = self.election {
            election.stop().await;
        }
        let _ = self.http.await;
        self.store.close().await;
    }

    /// Stops accepting callbacks, lets in-flight requests finish, closes the WebSocket, saves
    /// the resume point, gives up the leadership and closes the database.
    pub async fn shutdown(self) -> Result<(), BotError> {
        tracing::info!("shutting down: finishing in-flight work");
        self.stop.send_replace(true);
        self.halt.send_replace(Halt::Stop);
        let served = self.http.await;
        let _ = self.supervisor.await;
        self.election_stop.send_replace(true);
        if let Some(election) = self.election {
            election.stop().await;
        }
        self.store.close().await;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BotError::Listen {
                addr: self.http_addr.to_string(),
                source,
            }),
            Err(join) => Err(BotError::Setup(format!(
                "the HTTP server task failed: {join}"
            ))),
        }
    }
}
