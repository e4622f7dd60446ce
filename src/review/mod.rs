//! The review workflow: incoming shared channels become requests, every system admin is asked
//! by DM, one click decides (accept into a team, reject), and every copy shows the outcome.
//!
//! - [`reconcile`]: discovery, DMs, withdrawals, reminders, expiry, catching up after restarts.
//! - [`arrival`]: an arriving channel served at once from what the last reconcile read.
//! - [`callbacks`]: verifying and answering clicks and dialog submissions.
//! - [`apply`]: carrying decisions and relocations out against Mattermost.
//! - [`reject`]: a reject with its reason, for clicks, dialogs and rules.
//! - [`message`]: the posts; [`signing`]: the HMAC over every action's context.

mod apply;
mod arrival;
mod callbacks;
mod context;
mod declines;
mod destination;
mod message;
mod reconcile;
mod reject;
mod resign;
mod signing;
mod team_admins;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

pub use context::{Context, Places, ADMIN_CHECK_TTL};
pub use declines::{subject as decline_subject, DECLINED};
pub use message::{ago, timestamp, ACCEPT, CHOOSE, REJECT, REJECT_REASON, RELOCATE, TEAM_MENU};
pub use reject::REASON_MAX;
pub use signing::{Opened, Signer, Unsealed};

pub(crate) use callbacks::refusal;

#[cfg(test)]
pub(crate) use callbacks::team_dialog;
#[cfg(test)]
pub(crate) use reject::reject_dialog;

use crate::mattermost::{self, Event};
use crate::notify::{NotifyError, TemplateError};
use crate::store::StoreError;

/// The actor recorded for what sharebot decides itself (auto-accept, expiry, withdrawal).
pub const BOT_ACTOR: &str = crate::store::SHAREBOT;

/// What can go wrong in the review workflow.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Mattermost(#[from] mattermost::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// Mattermost would not do what the decision needs, in words for the admin.
    #[error("{0}")]
    Refused(String),
}

impl From<NotifyError> for ReviewError {
    fn from(e: NotifyError) -> ReviewError {
        match e {
            NotifyError::Mattermost(e) => ReviewError::Mattermost(e),
            NotifyError::Store(e) => ReviewError::Store(e),
            NotifyError::Template(e) => ReviewError::Template(e),
        }
    }
}

impl ReviewError {
    /// Text for the admin: Mattermost's own message, never SQL or a secret.
    pub fn user_message(&self) -> String {
        match self {
            ReviewError::Mattermost(e) => e.user_message(),
            ReviewError::Store(e) => e.user_message().to_string(),
            ReviewError::Template(_) => "a message template failed to render".into(),
            ReviewError::Refused(why) => why.clone(),
        }
    }
}

/// The review workflow; cheap to clone.
#[derive(Clone)]
pub struct Review {
    ctx: Arc<Context>,
    /// Requests whose decision or relocation is being applied in this process.
    applying: Arc<Mutex<HashSet<String>>>,
    /// One reconcile at a time.
    discovery: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the reconcile loop early (a channel arrived, a resync).
    wake: Arc<Notify>,
    /// Arrivals being served from their events: a burst beyond [`ARRIVALS_AT_ONCE`] is left
    /// to one reconcile, which takes many channels in far fewer calls and less memory.
    arrivals: Arc<tokio::sync::Semaphore>,
    /// Something may have changed that the link lists do not show (a channel updated or
    /// archived, events lost): the next pass re-reads the pending channels and the team list.
    /// Set at start.
    recheck: Arc<AtomicBool>,
}

/// How many arriving channels are served from their events at once.
const ARRIVALS_AT_ONCE: usize = 4;

impl Review {
    pub fn new(ctx: Context) -> Review {
        Review {
            ctx: Arc::new(ctx),
            applying: Arc::default(),
            discovery: Arc::default(),
            wake: Arc::default(),
            arrivals: Arc::new(tokio::sync::Semaphore::new(ARRIVALS_AT_ONCE)),
            recheck: Arc::new(AtomicBool::new(true)),
        }
    }

    fn is_applying(&self, request_id: &str) -> bool {
        self.applying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(request_id)
    }

    /// Marks `request_id` as being applied; false when it already is.
    fn start_applying(&self, request_id: &str) -> bool {
        self.applying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.to_string())
    }

    fn done_applying(&self, request_id: &str) {
        self.applying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(request_id);
    }

    /// Applies a claimed decision in the background (once at a time per request).
    fn spawn_apply(&self, request_id: String) {
        if !self.start_applying(&request_id) {
            return;
        }
        let review = self.clone();
        tokio::spawn(async move {
            apply::decision(&review.ctx, &request_id).await;
            review.done_applying(&request_id);
        });
    }

    /// Moves an accepted channel to another team in the background.
    fn spawn_relocate(&self, request: crate::store::ReviewRequest, to: String, by: String) {
        if !self.start_applying(&request.id) {
            return;
        }
        let review = self.clone();
        tokio::spawn(async move {
            apply::relocation(&review.ctx, &request, &to, &by).await;
            review.done_applying(&request.id);
        });
    }

    /// Runs reconcile at once, then every `review.reconcile_every` and whenever woken, until
    /// `stop`; waits for decisions being applied before it returns.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Posts signed with a key that is no longer current are re-signed first.
        if let Err(err) = self.resign_open_posts().await {
            tracing::warn!("cannot re-sign the open review posts (tried at the next start): {err}");
        }
        loop {
            let started = std::time::Instant::now();
            let pass = self.reconcile_once().await;
            self.ctx
                .metrics
                .reconcile_pass(pass.is_ok(), started.elapsed());
            if let Err(err) = pass {
                tracing::warn!(
                    "reconcile failed (tried again in {:?}): {err}",
                    self.ctx.config.reconcile_every
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(self.ctx.config.reconcile_every) => {}
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        for _ in 0..200 {
            if self.applying.lock().map(|a| a.is_empty()).unwrap_or(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The shared context (client, store, places, templates, signer, poster).
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Moves an accepted channel to team `to` in the background, for admin `by`; false when
    /// a decision or move of that request is already under way.
    pub fn relocate(&self, request: crate::store::ReviewRequest, to: String, by: String) -> bool {
        if self.is_applying(&request.id) {
            return false;
        }
        self.spawn_relocate(request, to, by);
        true
    }

    /// Asks the loop for a reconcile now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Makes the next pass re-read what it otherwise trusts from before (see `recheck`).
    fn recheck_next_pass(&self) {
        self.recheck.store(true, Ordering::SeqCst);
    }

    /// Takes the recheck mark for this pass.
    fn take_recheck(&self) -> bool {
        self.recheck.swap(false, Ordering::SeqCst)
    }
}

impl crate::bot::Domain for Review {
    async fn event(&self, event: Event) {
        match &event {
            // A channel arrived through a connection the bot created: its DMs go out at once,
            // beside the event stream; what that cannot settle, a reconcile does.
            Event::ChannelCreated { channel_id, .. } => {
                let Ok(permit) = self.arrivals.clone().try_acquire_owned() else {
                    self.wake();
                    return;
                };
                let review = self.clone();
                let channel_id = channel_id.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(why) = review.arrived(&channel_id).await {
                        tracing::debug!(channel_id, ?why, "arrival left to the reconcile");
                        review.wake();
                    }
                });
            }
            // A channel stopped being shared or was archived: look now rather than at the
            // next tick.
            Event::ChannelUpdated { .. } => {
                self.recheck_next_pass();
                self.wake()
            }
            Event::Other { event, .. } if event == "channel_deleted" => {
                self.recheck_next_pass();
                self.wake()
            }
            // Someone's roles or profile changed: the admin list is read again at the next
            // pass rather than at its own period.
            Event::Other { event, .. }
                if event == "user_role_updated" || event == "user_updated" =>
            {
                self.recheck_next_pass()
            }
            _ => {}
        }
    }

    async fn reconcile(&self, _reason: String) {
        // Events may have been lost: look at everything again.
        self.recheck_next_pass();
        self.wake();
    }

    fn callbacks(self: Arc<Self>) -> Option<Arc<dyn crate::http::DynCallbacks>> {
        Some(self)
    }

    fn background(
        self: Arc<Self>,
        stop: watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        Some(tokio::spawn(Review::clone(&self).run(stop)))
    }
}

impl crate::http::Callbacks for Review {
    async fn action(
        &self,
        click: mattermost::models::PostActionIntegrationRequest,
    ) -> Result<mattermost::models::PostActionIntegrationResponse, crate::http::CallbackRefusal>
    {
        Review::action(self, click).await
    }

    async fn dialog(
        &self,
        submit: mattermost::models::SubmitDialogRequest,
    ) -> Result<mattermost::models::SubmitDialogResponse, crate::http::CallbackRefusal> {
        Review::dialog(self, submit).await
    }
}
