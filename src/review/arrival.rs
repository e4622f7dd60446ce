//! Serving an arriving channel at once: the server tells a connection's creator of each
//! channel it receives through that connection (`channel_created`, to that user alone), so
//! when the bot created exactly one live connection the event names both the channel and its
//! sender. With the admins, teams and connections the last reconcile read, the arrival then
//! costs one read of the channel before every admin's DM goes out. Whatever this cannot settle
//! alone (several candidate connections, a policy not yet recorded, an error) is left to a
//! full reconcile, which also checks the link this path takes on trust.

use crate::mattermost::models::RemoteCluster;
use crate::store::RequestState;

use super::Review;

/// Why an arrival was left to the reconcile.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unsettled {
    /// No reconcile has read the admins and connections yet.
    NothingRead,
    /// The bot created no live connection, or several: the sender is not known.
    SenderUnknown,
    /// The connection's policy is not recorded yet (the reconcile discovers it).
    NoPolicy,
    /// The channel is not a received channel the review takes in.
    NotReceived,
    /// Mattermost or the store failed; the reconcile tries again.
    Failed(String),
}

/// The one live connection the bot created, when there is exactly one.
fn sole_sender<'a>(remotes: &'a [RemoteCluster], bot_id: &str) -> Option<&'a RemoteCluster> {
    let mut mine = remotes
        .iter()
        .filter(|r| r.delete_at == 0 && r.creator_id == bot_id);
    match (mine.next(), mine.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

impl Review {
    /// Takes in channel `channel_id`, announced by `channel_created`, and sends its review DMs.
    pub(super) async fn arrived(&self, channel_id: &str) -> Result<(), Unsettled> {
        let ctx = &*self.ctx;
        let (admins, teams, remotes) = ctx.last_read().ok_or(Unsettled::NothingRead)?;
        let remote = sole_sender(&remotes, &ctx.places.bot.id).ok_or(Unsettled::SenderUnknown)?;
        let failed = |e: &dyn std::fmt::Display| Unsettled::Failed(e.to_string());
        let (channel, known, policy) = tokio::join!(
            ctx.client.get_channel(channel_id),
            ctx.store.requests_for_channel(channel_id),
            ctx.store.policy(&remote.remote_id)
        );
        let channel = channel.map_err(|e| failed(&e))?;
        let policy = policy.map_err(|e| failed(&e))?.ok_or(Unsettled::NoPolicy)?;
        if known
            .map_err(|e| failed(&e))?
            .iter()
            .any(|r| r.state != RequestState::Withdrawn)
        {
            return Ok(());
        }
        let received = channel.is_shared()
            && !channel.is_archived()
            && matches!(channel.channel_type.as_str(), "O" | "P");
        if !received {
            return Err(Unsettled::NotReceived);
        }
        let request = self
            .take_in(remote, &policy, &channel, &teams)
            .await
            .map_err(|e| failed(&e))?;
        if let Some(request) = request {
            self.notify_admins(&request, &admins, &teams).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(id: &str, creator: &str, deleted: bool) -> RemoteCluster {
        RemoteCluster {
            remote_id: id.into(),
            creator_id: creator.into(),
            delete_at: i64::from(deleted),
            ..RemoteCluster::default()
        }
    }

    #[test]
    fn the_sender_is_known_only_when_the_bot_created_exactly_one_live_connection() {
        let bot = "bot";
        assert_eq!(sole_sender(&[], bot).map(|r| r.remote_id.as_str()), None);
        let one = [remote("r1", bot, false), remote("r2", "someone", false)];
        assert_eq!(
            sole_sender(&one, bot).map(|r| r.remote_id.as_str()),
            Some("r1")
        );
        let deleted = [remote("r1", bot, true), remote("r2", bot, false)];
        assert_eq!(
            sole_sender(&deleted, bot).map(|r| r.remote_id.as_str()),
            Some("r2")
        );
        let two = [remote("r1", bot, false), remote("r2", bot, false)];
        assert_eq!(sole_sender(&two, bot).map(|r| r.remote_id.as_str()), None);
    }
}
