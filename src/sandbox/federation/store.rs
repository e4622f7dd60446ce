//! Look-ups and changes of connection and shared-channel records in the sandbox's data, as the
//! server's stores make them (soft deletes, live links only where the server filters them).

use super::super::api::channels::system_post;
use super::super::model::{Channel, Post};
use super::super::state::Db;
use super::records::{RemoteCluster, SharedChannelRemote};

/// `sharedchannel.UnshareMessage`.
pub const UNSHARE_MESSAGE: &str = "This channel is no longer shared.";

impl Db {
    /// A connection by id; soft-deleted ones only with `include_deleted`.
    pub fn remote(&self, remote_id: &str, include_deleted: bool) -> Option<&RemoteCluster> {
        self.remote_clusters
            .get(remote_id)
            .filter(|rc| include_deleted || rc.delete_at == 0)
    }

    /// The link of a channel to a connection, deleted or not.
    pub fn channel_remote_any(
        &self,
        channel_id: &str,
        remote_id: &str,
    ) -> Option<&SharedChannelRemote> {
        self.shared_channel_remotes
            .values()
            .find(|scr| scr.channel_id == channel_id && scr.remote_id == remote_id)
    }

    /// The live link of a channel to a connection (`HasRemote`).
    pub fn channel_remote(
        &self,
        channel_id: &str,
        remote_id: &str,
    ) -> Option<&SharedChannelRemote> {
        self.channel_remote_any(channel_id, remote_id)
            .filter(|scr| scr.delete_at == 0)
    }

    /// Live links of a channel, oldest first.
    pub fn channel_remotes(&self, channel_id: &str) -> Vec<SharedChannelRemote> {
        let mut list: Vec<SharedChannelRemote> = self
            .shared_channel_remotes
            .values()
            .filter(|scr| scr.channel_id == channel_id && scr.delete_at == 0)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.create_at.cmp(&b.create_at).then(a.id.cmp(&b.id)));
        list
    }

    /// Ends sharing on this server only (`unshareChannelIfNoActiveRemotes`, and the receiving
    /// side of `sharedchannel_unshare`): the SharedChannel record goes, the channel stays as
    /// a local one with `shared` false, and `poster` writes the "no longer shared" post.
    /// Returns the updated channel and the post for the events, or `None` when not shared.
    pub fn unshare_locally(&mut self, channel_id: &str, poster: &str) -> Option<(Channel, Post)> {
        self.shared_channels.remove(channel_id)?;
        let now = self.next_post_time(channel_id);
        let channel = {
            let channel = self.channels.get_mut(channel_id)?;
            channel.shared = Some(false);
            channel.update_at = now;
            channel.clone()
        };
        let post = system_post(
            channel_id,
            poster,
            "system_generic",
            UNSHARE_MESSAGE.into(),
            serde_json::json!({}),
            now,
        );
        self.save_post(&post);
        Some((channel, post))
    }
}
