//! Pings every confirmed connection periodically (`ping.go`): a 200 answer sets the
//! connection's `last_ping_at` on the pinging side; a connection that comes back online gets
//! the channel invites that waited for it and a sync of its channels.

use serde_json::json;

use super::super::core::shared::Shared;
use super::outbound::{self, Target, PING_TIMEOUT};
use super::protocol::{Ping, PING_PATH, TOPIC_PING};
use crate::ids::now_ms;

/// The ping loop of one instance (runs until aborted).
pub(crate) async fn run(state: Shared) {
    let mut ticker = tokio::time::interval(state.federation.options.ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let ids: Vec<String> = {
            let db = state.db();
            db.remote_clusters
                .values()
                .filter(|rc| rc.delete_at == 0 && rc.is_confirmed())
                .map(|rc| rc.remote_id.clone())
                .collect()
        };
        for id in ids {
            ping_now(&state, &id).await;
        }
    }
}

/// Pings one connection in the background (`go PingNow(rc)`).
pub(crate) fn ping_soon(state: &Shared, remote_id: &str) {
    let (state, remote_id) = (state.clone(), remote_id.to_string());
    tokio::spawn(async move { ping_now(&state, &remote_id).await });
}

/// Pings one connection now (`PingNow`); returns whether it answered.
pub(crate) async fn ping_now(state: &Shared, remote_id: &str) -> bool {
    let Some((site_url, token, was_online)) = ({
        let db = state.db();
        db.remote(remote_id, false)
            .filter(|rc| rc.is_confirmed())
            .map(|rc| {
                (
                    rc.site_url.clone(),
                    rc.remote_token.clone(),
                    rc.is_online(db.now()),
                )
            })
    }) else {
        return false;
    };
    let target = Target {
        site_url: &site_url,
        remote_id,
        token: &token,
    };
    let msg = outbound::message(TOPIC_PING, json!({"sent_at": now_ms(), "recv_at": 0}));
    match outbound::send::<Ping>(&state.http, &target, PING_PATH, msg, PING_TIMEOUT).await {
        Ok(_) => {
            // `SetLastPingAt` stamps the time on this server's clock.
            let mut db = state.db();
            let now = db.now();
            if let Some(rc) = db.remote_clusters.get_mut(remote_id) {
                rc.last_ping_at = now;
            }
            drop(db);
            if !was_online {
                super::channel_share::send_pending_invites(state, remote_id);
                let channels: Vec<String> = {
                    let db = state.db();
                    db.shared_channel_remotes
                        .values()
                        .filter(|scr| scr.remote_id == remote_id && scr.delete_at == 0)
                        .map(|scr| scr.channel_id.clone())
                        .collect()
                };
                for channel in channels {
                    state.federation.channel_changed(&channel);
                }
            }
            true
        }
        Err(err) => {
            tracing::debug!(remote_id, %err, "sandbox: ping failed");
            false
        }
    }
}
