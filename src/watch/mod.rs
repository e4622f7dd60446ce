//! Watches the secure connections and says so in the admin channel: a connection going
//! offline or coming back ([`health`]), and an invitation the bot made that is about to expire
//! or has expired ([`invites`]). Each announcement is claimed in the store before it is
//! posted, so it is made once across restarts and replicas.

mod health;
mod invites;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::mattermost::models::Post;
use crate::review::{Context, ReviewError, BOT_ACTOR};

/// The connection watch; cheap to clone.
#[derive(Clone)]
pub struct Watch {
    ctx: Arc<Context>,
    clock: Clock,
}

impl Watch {
    pub fn new(ctx: Arc<Context>, clock: Clock) -> Watch {
        Watch { ctx, clock }
    }

    /// The same watch over `ctx` (the leader's context, writing through its fenced store).
    pub fn with_context(&self, ctx: Arc<Context>) -> Watch {
        Watch::new(ctx, self.clock.clone())
    }

    /// Looks at every connection at once, then every `review.reconcile_every`, until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(err) = self.pass().await {
                tracing::warn!(
                    "cannot check the connections' health (tried again in {:?}): {}",
                    self.ctx.config.reconcile_every,
                    err.user_message()
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(self.ctx.config.reconcile_every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }

    /// One look at every connection, as the review's last reconcile pass read them (so at
    /// rest the watch asks Mattermost nothing more): health for the confirmed ones, invite
    /// expiry for the ones the bot created that are still waiting to be accepted. Before the
    /// first reconcile pass there is nothing to look at yet.
    pub async fn pass(&self) -> Result<(), ReviewError> {
        let Some((_, _, all)) = self.ctx.last_read() else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        for rc in all.iter().filter(|rc| rc.delete_at == 0) {
            if rc.is_confirmed() {
                health::check(self, rc, now).await?;
            } else if rc.creator_id == self.ctx.places.bot.id {
                invites::check(self, rc, now).await?;
            }
        }
        Ok(())
    }

    /// Posts `connection_watch.md.j2` rendered with `context` in the admin channel, and
    /// records `action` about `remote_id` in the audit.
    async fn announce(
        &self,
        action: &str,
        remote_id: &str,
        context: &Value,
    ) -> Result<(), ReviewError> {
        let message = self
            .ctx
            .templates
            .render("connection_watch.md.j2", context)?;
        self.ctx
            .client
            .create_post(&Post {
                channel_id: self.ctx.places.admin_channel.id.clone(),
                message,
                ..Post::default()
            })
            .await?;
        let mut detail = serde_json::Map::new();
        for key in ["org", "name", "since", "expires_at"] {
            if let Some(v) = context.get(key).filter(|v| !v.is_null()) {
                detail.insert(key.to_string(), v.clone());
            }
        }
        self.ctx
            .store
            .audit(
                BOT_ACTOR,
                action,
                remote_id,
                &Value::Object(detail).to_string(),
            )
            .await?;
        Ok(())
    }
}

/// `2 h 5 min`: a duration in whole minutes (at least one; days drop the minutes), for
/// people.
fn rough(ms: i64) -> String {
    let minutes = (ms.max(0) / 60_000).max(1);
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 && days == 0 {
        parts.push(format!("{mins} min"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::rough;

    #[test]
    fn durations_read_in_minutes_hours_and_days() {
        assert_eq!(rough(5_000), "1 min");
        assert_eq!(rough(12 * 60_000 + 30_000), "12 min");
        assert_eq!(rough((2 * 60 + 5) * 60_000), "2 h 5 min");
        assert_eq!(rough(26 * 3_600_000), "1 d 2 h");
    }
}
