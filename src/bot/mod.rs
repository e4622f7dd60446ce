//! The bot process: start-up checks, the HTTP server, the WebSocket listener and the domain,
//! wired together, and a clean stop.

mod error;
pub mod leader;
mod listener;
mod single;
mod startup;
mod term;

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
use crate::mattermost::{Client, ClientOptions, WsOptions};
use crate::metrics::Metrics;
use crate::store::Store;
use term::{supervise, Halt, Leading};

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
    // SQLite's one process leads from the start; a replica on PostgreSQL follows until it wins.
    let (leading_tx, leading) = watch::channel(config.database.dialect == Dialect::Sqlite);
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
