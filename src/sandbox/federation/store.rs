//! Ending a channel's sharing on this server, as the server's store and shared channel service
//! do it (the look-ups of connection records are the state's).

use super::super::core::posts::system_post;
use super::super::model::{Channel, Post};
use super::super::state::Db;

/// `sharedchannel.UnshareMessage`.
pub const UNSHARE_MESSAGE: &str = "This channel is no longer shared.";

impl Db {
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

    /// Ends sharing here without a post of its own (`UnshareChannel`): the caller posted the
    /// notice already. Returns the updated channel, or `None` when it was not shared.
    pub fn unshare_silently(&mut self, channel_id: &str) -> Option<Channel> {
        self.shared_channels.remove(channel_id)?;
        let now = self.now();
        let channel = self.channels.get_mut(channel_id)?;
        channel.shared = Some(false);
        channel.update_at = now;
        Some(channel.clone())
    }
}
