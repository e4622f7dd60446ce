//! The bot process: start-up checks, the HTTP server, the WebSocket listener and the domain,
//! wired together, and a clean stop.

mod error;
mod listener;
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
use crate::mattermost::{Client, ClientOptions, Event, WsConfig, WsOptions};
use crate::metrics::Metrics;
use crate::store::Store;

/// Tuning that tests shorten; production uses the defaults.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub client: ClientOptions,
    pub websocket: WsOptions,
    /// How often the resume point is written at most.
    pub resume_flush: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            client: ClientOptions::default(),
            websocket: WsOptions::default(),
            resume_flush: Duration::from_millis(500),
        }
    }
}

/// The domain until the review workflow and the commands plug in: it logs what arrives.
pub struct LoggingDomain;

impl Domain for LoggingDomain {
    async fn event(&self, event: Event) {
        tracing::debug!(event = event.name(), "event received");
    }

    async fn reconcile(&self, reason: String) {
        tracing::debug!(%reason, "reconcile requested");
    }
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
}

/// Starts the bot: database, Mattermost checks, HTTP server, WebSocket listener.
pub async fn start<D: Domain>(
    config: &Config,
    tuning: Tuning,
    domain: Arc<D>,
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

    let store = Store::open(&config.database).await?;

    let identity = startup::verify(&client, config).await?;
    tracing::info!(
        bot = %identity.user.username,
        admin_channel = %config.mattermost.admin_channel,
        inbox_team = %identity.inbox_team.name,
        "Mattermost checks passed"
    );

    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| BotError::Listen {
            addr: config.server.listen.to_string(),
            source,
        })?;
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
    });
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(http::serve(listener, router, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    tracing::info!(listen = %http_addr, public_url = %config.server.public_url, "HTTP server listening");

    let slot = listener::ResumeSlot::default();
    let on_resume = slot.clone();
    let ws = client.websocket(
        WsConfig {
            options: tuning.websocket.clone(),
            resume_from: load_resume_point(&store).await,
            on_resume_point: Some(Arc::new(move |p| on_resume.set(p))),
        },
        stop_rx.clone(),
    );
    let mirror = listener::mirror_state(ws.state, link_tx);
    let consumer = tokio::spawn(listener::consume(ws.messages, domain, metrics.clone()));
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
    })
}

impl RunningBot {
    /// Stops accepting callbacks, lets in-flight requests finish, closes the WebSocket, saves
    /// the resume point and closes the database.
    pub async fn shutdown(self) -> Result<(), BotError> {
        tracing::info!("shutting down: finishing in-flight work");
        self.stop.send_replace(true);
        let served = self.http.await;
        let _ = self.websocket.await;
        let _ = self.consumer.await;
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
