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
pub use listener::{load_resume_point, Domain, RESUME_KEY};
pub use startup::Identity;

use crate::config::Config;
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
    /// What the time-driven loops read as now (tests move it).
    pub clock: crate::clock::Clock,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            client: ClientOptions::default(),
            websocket: WsOptions::default(),
            resume_flush: Duration::from_millis(500),
            notice_sync_wait: Duration::from_secs(15),
            clock: crate::clock::Clock::default(),
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
    /// The Mattermost link state that `/readyz` reports.
    pub link: watch::Receiver<MattermostLink>,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    websocket: JoinHandle<()>,
    consumer: JoinHandle<()>,
    flusher: JoinHandle<()>,
    background: Option<JoinHandle<()>>,
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

/// Starts the bot: database, Mattermost checks, the domain built from `build`, HTTP server,
/// WebSocket listener and the domain's background work.
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
    let (stop, stop_rx) = watch::channel(false);
    let (link_tx, link) = watch::channel(MattermostLink::Disconnected);
    let router = http::router(AppState {
        store: store.clone(),
        mattermost: link.clone(),
        metrics: metrics.clone(),
        callbacks: domain.clone().callbacks(),
        audit: config
            .server
            .audit_token
            .clone()
            .zip(domain.clone().audit())
            .map(|(token, source)| http::AuditRoute { token, source }),
    });
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(http::serve(listener, router, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    tracing::info!(listen = %http_addr, public_url = %config.server.public_url, "HTTP server listening");

    let slot = listener::ResumeSlot::default();
    let mut ws = client.websocket(
        WsConfig {
            options: tuning.websocket.clone(),
            resume_from: load_resume_point(&store).await,
            on_resume_point: None,
            checkpoints: true,
        },
        stop_rx.clone(),
    );
    // The socket's state and the places check on each fresh connection make `/readyz`.
    let (socket_tx, socket_link) = watch::channel(MattermostLink::Disconnected);
    let mirror = listener::mirror_state(ws.state, socket_tx);
    let (places_tx, places) = watch::channel(None);
    drop(tokio::spawn(combine_link(socket_link, places, link_tx)));
    let (messages_tx, messages) = tokio::sync::mpsc::channel(64);
    drop(tokio::spawn(recheck_places(
        ws.messages,
        messages_tx,
        client.clone(),
        config.clone(),
        identity.clone(),
        places_tx,
    )));
    ws.messages = messages;
    let background = domain.clone().background(stop_rx.clone());
    let consumer = tokio::spawn(listener::consume(
        ws.messages,
        domain,
        slot.clone(),
        metrics.clone(),
    ));
    let flusher = listener::flusher(store.clone(), slot, tuning.resume_flush, stop_rx);
    // The mirror ends by itself when the listener's state sender is dropped.
    drop(mirror);

    Ok(RunningBot {
        http_addr,
        identity,
        metrics,
        store,
        link,
        stop,
        http,
        websocket: ws.task,
        consumer,
        flusher,
        background,
        _sqlite_lock: sqlite_lock,
    })
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
) {
    let mut first = true;
    while let Some(message) = from.recv().await {
        if let crate::mattermost::WsMessage::Connected { resumed, .. } = &message {
            if !*resumed && !first {
                let problem = startup::recheck(&client, &config, &identity).await;
                if let Some(why) = &problem {
                    tracing::error!("{why}");
                }
                places.send_replace(problem);
            }
            first = false;
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
    /// flushed, the database is left as it is (tests use it to show nothing is lost).
    pub async fn kill(self) {
        self.http.abort();
        self.websocket.abort();
        self.consumer.abort();
        self.flusher.abort();
        if let Some(background) = &self.background {
            background.abort();
        }
        let _ = self.http.await;
        let _ = self.websocket.await;
        let _ = self.consumer.await;
        let _ = self.flusher.await;
        if let Some(background) = self.background {
            let _ = background.await;
        }
        self.store.close().await;
    }

    /// Stops accepting callbacks, lets in-flight requests finish, closes the WebSocket, saves
    /// the resume point and closes the database.
    pub async fn shutdown(self) -> Result<(), BotError> {
        tracing::info!("shutting down: finishing in-flight work");
        self.stop.send_replace(true);
        let served = self.http.await;
        let _ = self.websocket.await;
        let _ = self.consumer.await;
        if let Some(background) = self.background {
            let _ = background.await;
        }
        let _ = self.flusher.await;
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
