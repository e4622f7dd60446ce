//! A connection going offline or coming back, as the System Console tells it: online while
//! Mattermost has pinged it in the last five minutes (`RemoteCluster.IsOnline`).

use serde_json::json;

use crate::mattermost::models::{RemoteCluster, SharedChannelRemoteFilter};
use crate::review::{timestamp, ReviewError};
use crate::store::Health;

use super::{rough, Watch};

/// Records the health of a confirmed connection and announces a change once. A connection
/// seen for the first time (the first pass after start-up on a fresh database, a new
/// connection) is only recorded.
pub(super) async fn check(watch: &Watch, rc: &RemoteCluster, now: i64) -> Result<(), ReviewError> {
    let online = rc.is_online(now);
    // Offline since the last ping that answered; online again since now.
    let since = if online { now } else { rc.last_ping_at };
    let store = &watch.ctx.store;
    let Health::Changed { since: before } =
        store.record_health(&rc.remote_id, online, since).await?
    else {
        return Ok(());
    };
    let (outgoing, incoming) = shared_counts(watch, &rc.remote_id).await;
    let kind = if online { "online" } else { "offline" };
    let context = json!({
        "kind": kind, "org": rc.display_name, "name": rc.name,
        "since": if online { timestamp(now) } else if rc.last_ping_at > 0 { timestamp(rc.last_ping_at) } else { String::new() },
        "away": if online { rough(now - before.max(0)) } else { String::new() },
        "outgoing": outgoing, "incoming": incoming, "mention": format!("@{} ", watch.ctx.places.bot.username),
    });
    let action = if online {
        "connection.online"
    } else {
        "connection.offline"
    };
    if let Err(err) = watch.announce(action, &rc.remote_id, &context).await {
        // Not announced: the change is announced at the next pass instead.
        store
            .undo_health(&rc.remote_id, online, before)
            .await
            .map_err(ReviewError::from)?;
        return Err(err);
    }
    tracing::info!(connection = %rc.name, online, "connection health changed; announced");
    Ok(())
}

/// How many channels we share with the connection and receive from it (`None` each when
/// Mattermost would not say).
async fn shared_counts(watch: &Watch, remote_id: &str) -> (Option<usize>, Option<usize>) {
    let client = &watch.ctx.client;
    let count = |exclude_home: bool| SharedChannelRemoteFilter {
        exclude_home,
        exclude_remote: !exclude_home,
        include_unconfirmed: true,
        ..SharedChannelRemoteFilter::default()
    };
    let outgoing = client
        .shared_channel_remotes(remote_id, &count(false))
        .await;
    let incoming = client.shared_channel_remotes(remote_id, &count(true)).await;
    (
        outgoing.ok().map(|l| l.len()),
        incoming.ok().map(|l| l.len()),
    )
}
