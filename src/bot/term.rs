//! The leader's work, one term of leadership at a time: started when this replica wins the
//! lock (WebSocket resumed from the stored point, listener, loops, on a fenced store), ended at
//! once when it loses it, and at shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::leader::{self, Role};
use super::listener::{self, load_resume_point, Domain};
use super::{startup, Identity, Tuning};
use crate::config::{Config, Dialect};
use crate::http::MattermostLink;
use crate::mattermost::{Client, WsConfig};
use crate::metrics::Metrics;
use crate::store::Store;

/// How the bot is asked to end the leader's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Halt {
    Run,
    /// Finish in-flight work and save the resume point (shutdown).
    Stop,
    /// Stop at once, as a killed process would.
    Kill,
}

/// What a term of leadership is started from.
pub(super) struct Leading<D: Domain> {
    /// The callbacks' domain; each term runs [`Domain::for_leader`] of it.
    pub(super) domain: Arc<D>,
    pub(super) client: Client,
    pub(super) store: Store,
    pub(super) config: Config,
    pub(super) identity: Identity,
    pub(super) tuning: Tuning,
    pub(super) metrics: Metrics,
    pub(super) link: watch::Sender<MattermostLink>,
    pub(super) leading: watch::Sender<bool>,
    /// No connection made yet in this process (its places were just checked at start-up).
    pub(super) first_connection: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs the leader's work while this replica leads: starts a term when the lock is won, ends
/// it at once when the lock is lost (before another replica can win it), until halted.
pub(super) async fn supervise<D: Domain>(
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
