//! Federation between sandbox instances, as Mattermost servers do it: secure connections
//! (remote clusters) confirmed over HTTP, pings, shared channels offered and received, and the
//! sync of posts and reactions between the servers that share a channel.

pub(crate) mod channel_share;
pub(crate) mod inbound;
pub(crate) mod invitation;
pub(crate) mod outbound;
pub(crate) mod pinger;
pub(crate) mod protocol;
pub(crate) mod records;
mod store;
pub(crate) mod sync;

use std::time::Duration;

use tokio::sync::mpsc;

pub use self::store::UNSHARE_MESSAGE;

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

/// `PingTimeout`: a ping not answered within this counts as failed.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// `SendTimeout` for messages and invite confirmations.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The federation state an instance's handlers share.
pub(crate) struct Runtime {
    pub options: FederationOptions,
    sync: mpsc::UnboundedSender<String>,
}

impl Runtime {
    /// A runtime and the receiving end of its sync queue (for [`spawn`]).
    pub fn new(options: FederationOptions) -> (Runtime, mpsc::UnboundedReceiver<String>) {
        let (sync, queue) = mpsc::unbounded_channel();
        (Runtime { options, sync }, queue)
    }

    /// Asks for a channel's changes to be sent to the servers it is shared with
    /// (`NotifyChannelChanged`).
    pub fn channel_changed(&self, channel_id: &str) {
        let _ = self.sync.send(channel_id.to_string());
    }
}

/// Starts the instance's background work: the pinger and the sync sender.
pub(crate) fn spawn(
    state: super::api::Shared,
    queue: mpsc::UnboundedReceiver<String>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(pinger::run(state.clone())),
        tokio::spawn(sync::run(state, queue)),
    ]
}
