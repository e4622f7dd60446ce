//! Consumes the Mattermost WebSocket: keeps `/readyz` in step with the connection, hands
//! events and resync signals to the domain, and persists the resume point (nothing secret)
//! once the domain has finished with the events before it, so a restart replays the rest.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::http::MattermostLink;
use crate::mattermost::{ConnectionState, Event, ResumePoint, WsMessage};
use crate::metrics::Metrics;
use crate::store::Store;

/// The `kv` key of the WebSocket resume point.
pub const RESUME_KEY: &str = "mattermost.websocket.resume";

/// What the domain does with what arrives on the socket. The review workflow and the chat
/// commands implement it; until they exist the bot only counts and logs.
pub trait Domain: Send + Sync + 'static {
    /// A server event, in order, delivered once.
    fn event(&self, event: Event) -> impl std::future::Future<Output = ()> + Send;
    /// Events may have been lost: re-read the state that matters over REST.
    fn reconcile(&self, reason: String) -> impl std::future::Future<Output = ()> + Send;
    /// What answers interactive callbacks, if the domain has any.
    fn callbacks(self: Arc<Self>) -> Option<Arc<dyn crate::http::DynCallbacks>> {
        None
    }
    /// Work the domain runs beside the listener until `stop` (e.g. a reconcile loop).
    fn background(self: Arc<Self>, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        let _ = stop;
        None
    }
    /// The domain the leader's listener and loops use: the same one writing through `store`,
    /// whose writes the database refuses once another replica leads (this one by default).
    fn for_leader(self: Arc<Self>, store: Store) -> Arc<Self> {
        let _ = store;
        self
    }
}

/// Reads the resume point a previous run stored, if it is readable.
pub async fn load_resume_point(store: &Store) -> Option<ResumePoint> {
    let text = store.kv_get(RESUME_KEY).await.ok()??;
    serde_json::from_str(&text).ok()
}

/// The latest resume point reported by the listener, written to the store by [`flusher`].
#[derive(Clone, Default)]
pub struct ResumeSlot {
    latest: Arc<Mutex<Option<ResumePoint>>>,
    changed: Arc<Notify>,
}

impl ResumeSlot {
    /// Called by the consumer once the domain has handled everything before `point`; cheap
    /// (no I/O).
    pub fn set(&self, point: &ResumePoint) {
        if let Ok(mut slot) = self.latest.lock() {
            *slot = Some(point.clone());
        }
        self.changed.notify_one();
    }

    fn take(&self) -> Option<ResumePoint> {
        self.latest.lock().ok().and_then(|mut s| s.take())
    }
}

/// Writes the latest resume point at most every `every`, and once more when `stop` fires.
pub fn flusher(
    store: Store,
    slot: ResumeSlot,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = slot.changed.notified() => false,
                _ = stop.changed() => true,
            };
            if let Some(point) = slot.take() {
                match serde_json::to_string(&point) {
                    Ok(text) => {
                        if let Err(err) = store.kv_put(RESUME_KEY, &text).await {
                            tracing::warn!("cannot save the WebSocket resume point: {err}");
                        }
                    }
                    Err(err) => tracing::warn!("cannot encode the WebSocket resume point: {err}"),
                }
            }
            if stopping || *stop.borrow() {
                break;
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Mirrors the listener's connection state into the `/readyz` link state.
pub fn mirror_state(
    mut state: watch::Receiver<ConnectionState>,
    link: watch::Sender<MattermostLink>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = match *state.borrow_and_update() {
                ConnectionState::Connected => MattermostLink::Connected,
                ConnectionState::Disconnected => MattermostLink::Disconnected,
            };
            link.send_replace(now);
            if state.changed().await.is_err() {
                link.send_replace(MattermostLink::Disconnected);
                break;
            }
        }
    })
}

/// Hands every message to the domain until the listener stops, and moves the resume point
/// forward only past events the domain has finished with.
pub async fn consume<D: Domain>(
    mut messages: tokio::sync::mpsc::Receiver<WsMessage>,
    domain: Arc<D>,
    resume: ResumeSlot,
    metrics: Metrics,
) {
    while let Some(message) = messages.recv().await {
        match message {
            WsMessage::Connected {
                connection_id,
                resumed,
            } => {
                tracing::info!(connection_id = %connection_id, resumed, "listening to Mattermost");
            }
            WsMessage::Event(event) => {
                tracing::trace!(event = event.name(), "an event for the domain");
                domain.event(event).await
            }
            WsMessage::Checkpoint(point) => resume.set(&point),
            WsMessage::ResyncNeeded { reason } => {
                metrics.ws_resync();
                tracing::info!(%reason, "WebSocket events may have been lost: reconciling over REST");
                domain.reconcile(reason.to_string()).await;
            }
            WsMessage::Disconnected { reason } => {
                metrics.ws_disconnect();
                tracing::warn!(%reason, "Mattermost WebSocket dropped; reconnecting");
            }
        }
    }
}
