//! The state every handler of one instance shares (`Shared`), and what it carries: the data,
//! the WebSocket hub, and the federation runtime (whose steps `sandbox::federation` supplies).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::routing::MethodRouter;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::super::error::ApiResult;
use super::super::invite_code::RemoteClusterInvite;
use super::super::model::records::RemoteCluster;
use super::super::model::Channel;
use super::super::state::Db;
use super::super::trigger::TriggerSigner;
use super::super::websocket::Hub;

/// The server version the sandbox reports (`hello`'s `server_version`).
pub const SERVER_VERSION: &str = "10.11.0";

/// How long integrations took to answer clicks, as this server measured them (from sending
/// the request to reading the whole answer); cheap to clone.
#[derive(Clone, Default)]
pub struct IntegrationTimings {
    taken: Arc<Mutex<Vec<Duration>>>,
}

impl IntegrationTimings {
    pub(crate) fn record(&self, took: Duration) {
        self.taken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(took);
    }

    /// Every timing so far, and forgets them.
    pub fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.taken.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Everything a handler needs; shared by all requests of one instance.
pub(crate) struct Sandbox {
    /// Shared with the WebSocket hub's token check.
    pub db: Arc<Mutex<Db>>,
    pub hub: Hub,
    pub triggers: TriggerSigner,
    /// Client for integration requests (button clicks, dialog submissions).
    pub http: reqwest::Client,
    /// The public URL (`SiteURL`); the site name is in the configuration (`TeamSettings`).
    pub site_url: String,
    /// A stable id for this instance (`DiagnosticId`).
    pub diagnostic_id: String,
    /// Connections to other instances and the sync of shared channels.
    pub federation: Runtime,
    /// How long each integration took to answer a click (what the server's user waits on).
    pub integration_timings: IntegrationTimings,
}

/// Handle to the instance's shared state.
pub(crate) type Shared = Arc<Sandbox>;

/// One route: method, template (with the spec's parameter names) and handler.
pub(crate) type Route = (&'static str, &'static str, MethodRouter<Shared>);

impl Sandbox {
    /// Locks the data; never held across an `.await`.
    pub fn db(&self) -> MutexGuard<'_, Db> {
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Federation timing of one instance.
#[derive(Clone, Debug)]
pub struct FederationOptions {
    /// How often confirmed connections are pinged (`PingFreq`, one minute on the server).
    pub ping_interval: Duration,
    /// How long an invite can be confirmed after the connection was created
    /// (`InviteExpiresAfter`, 48 hours).
    pub invite_expires_after: Duration,
}

impl Default for FederationOptions {
    fn default() -> FederationOptions {
        FederationOptions {
            ping_interval: Duration::from_secs(60),
            invite_expires_after: Duration::from_secs(48 * 3600),
        }
    }
}

/// The federation steps a REST handler starts: the server's remote cluster and shared channel
/// services, as the API layer calls them.
pub(crate) trait Federation: Send + Sync {
    /// Accepts an opened invite as `draft` (name, display name, default team, creator)
    /// describes it, confirming it with the inviting server (`AcceptInvitation`); returns the
    /// saved connection.
    fn accept_invite<'a>(
        &'a self,
        state: &'a Shared,
        invitation: &'a RemoteClusterInvite,
        draft: RemoteCluster,
    ) -> BoxFuture<'a, ApiResult<RemoteCluster>>;

    /// Shares the channel if needed and offers it to the connection
    /// (`InviteRemoteToChannel`).
    fn invite_to_channel(
        &self,
        state: &Shared,
        channel: &Channel,
        rc: &RemoteCluster,
        user_id: &str,
    ) -> ApiResult<()>;

    /// Takes the connection off the channel (`UninviteRemoteFromChannel`); false when it was
    /// not linked.
    fn uninvite_from_channel(&self, state: &Shared, channel_id: &str, remote_id: &str) -> bool;
}

/// The federation state an instance's handlers share.
pub(crate) struct Runtime {
    pub options: FederationOptions,
    /// The federation steps the REST API starts.
    pub service: Box<dyn Federation>,
    sync: mpsc::UnboundedSender<String>,
}

impl Runtime {
    /// A runtime and the receiving end of its sync queue (for `sandbox::federation::spawn`).
    pub fn new(
        options: FederationOptions,
        service: Box<dyn Federation>,
    ) -> (Runtime, mpsc::UnboundedReceiver<String>) {
        let (sync, queue) = mpsc::unbounded_channel();
        (
            Runtime {
                options,
                service,
                sync,
            },
            queue,
        )
    }

    /// Asks for a channel's changes to be sent to the servers it is shared with
    /// (`NotifyChannelChanged`).
    pub fn channel_changed(&self, channel_id: &str) {
        let _ = self.sync.send(channel_id.to_string());
    }
}
