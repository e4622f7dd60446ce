//! An invitation the bot made that nobody has accepted yet: Mattermost refuses its code 48
//! hours after the connection was created (`remotecluster.InviteExpiresAfter`, checked by the
//! inviting server in `remoteClusterConfirmInvite` against the connection's `create_at`), so
//! the admin channel is warned 6 hours before, and told once when it has expired.

use std::time::Duration;

use serde_json::json;

use crate::mattermost::models::RemoteCluster;
use crate::review::{timestamp, ReviewError};

use super::{rough, Watch};

/// How long after the connection's creation Mattermost accepts its invite code.
pub const INVITE_EXPIRES_AFTER: Duration = Duration::from_secs(48 * 3600);

/// How long before the invite expires the admin channel is warned.
pub const WARN_BEFORE: Duration = Duration::from_secs(6 * 3600);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Warns once when the invite of `rc` expires within [`WARN_BEFORE`], and says once that it
/// has expired (only that, when the warning time passed unseen).
pub(super) async fn check(watch: &Watch, rc: &RemoteCluster, now: i64) -> Result<(), ReviewError> {
    let expires_at = rc.create_at.saturating_add(ms(INVITE_EXPIRES_AFTER));
    let store = &watch.ctx.store;
    let (kind, action) = if now >= expires_at {
        if !store.claim_invite_expired(&rc.remote_id).await? {
            return Ok(());
        }
        ("invite_expired", "connection.invite_expired")
    } else if now >= expires_at - ms(WARN_BEFORE) {
        if !store.claim_invite_warning(&rc.remote_id).await? {
            return Ok(());
        }
        ("invite_expiring", "connection.invite_expiring")
    } else {
        return Ok(());
    };
    let context = json!({
        "kind": kind, "org": rc.display_name, "name": rc.name,
        "since": timestamp(rc.create_at), "expires_at": timestamp(expires_at),
        "away": rough(expires_at - now), "outgoing": null, "incoming": null,
        "mention": format!("@{} ", watch.ctx.places.bot.username),
    });
    if let Err(err) = watch.announce(action, &rc.remote_id, &context).await {
        store
            .release_invite_note(&rc.remote_id, kind == "invite_expired")
            .await
            .map_err(ReviewError::from)?;
        return Err(err);
    }
    tracing::info!(connection = %rc.name, kind, "invite expiry announced");
    Ok(())
}
