//! Federation between sandbox instances, as Mattermost servers do it: secure connections
//! (remote clusters) confirmed over HTTP, pings, shared channels offered and received, and the
//! sync of posts and reactions between the servers that share a channel.

mod channel_share;
pub(crate) mod inbound;
mod invitation;
mod outbound;
mod pinger;
mod protocol;
mod store;
mod sync;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::core::shared::{Federation, Runtime, Shared};
use super::error::ApiResult;
use super::invite_code::RemoteClusterInvite;
use super::model::records::RemoteCluster;
use super::model::Channel;

pub use self::outbound::{PING_TIMEOUT, SEND_TIMEOUT};
pub use self::store::UNSHARE_MESSAGE;
pub use super::core::shared::FederationOptions;

/// The instance's federation runtime, with this module's [`Service`], and the receiving end
/// of its sync queue (for [`spawn`]).
pub(crate) fn runtime(options: FederationOptions) -> (Runtime, mpsc::UnboundedReceiver<String>) {
    Runtime::new(options, Box::new(Service))
}

/// The federation steps the REST API starts, as the server's remote cluster and shared channel
/// services carry them out.
struct Service;

impl Federation for Service {
    fn accept_invite<'a>(
        &'a self,
        state: &'a Shared,
        invite: &'a RemoteClusterInvite,
        draft: RemoteCluster,
    ) -> BoxFuture<'a, ApiResult<RemoteCluster>> {
        Box::pin(invitation::accept(state, invite, draft))
    }

    fn invite_to_channel(
        &self,
        state: &Shared,
        channel: &Channel,
        rc: &RemoteCluster,
        user_id: &str,
    ) -> ApiResult<()> {
        channel_share::invite(state, channel, rc, user_id)
    }

    fn uninvite_from_channel(&self, state: &Shared, channel_id: &str, remote_id: &str) -> bool {
        channel_share::uninvite(state, channel_id, remote_id)
    }
}

/// Starts the instance's background work: the pinger and the sync sender.
pub(crate) fn spawn(
    state: Shared,
    queue: mpsc::UnboundedReceiver<String>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(pinger::run(state.clone())),
        tokio::spawn(sync::run(state, queue)),
    ]
}
