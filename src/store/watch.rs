//! What the bot last saw of each secure connection (health, invite expiry), so each change is
//! announced once across restarts and replicas: every announcement is claimed by one
//! conditional update before it is posted.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// The outcome of recording a connection's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Seen for the first time (or first time confirmed): recorded, nothing to announce.
    First,
    /// As last recorded.
    Unchanged,
    /// This caller claimed the change; `since` is when the previous state began.
    Changed { since: i64 },
}

impl Store {
    /// Records that `remote_id` is `online` (since `since`, ms) and says whether that is a
    /// change this caller must announce. Of two callers seeing the same change, one gets
    /// [`Health::Changed`].
    pub async fn record_health(
        &self,
        remote_id: &str,
        online: bool,
        since: i64,
    ) -> Result<Health, StoreError> {
        let now = now_ms();
        let online = i64::from(online);
        let row: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT online, since FROM connection_watch WHERE remote_id = $1")
                .bind(remote_id)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            None | Some((None, _)) => {
                sqlx::query(
                    "INSERT INTO connection_watch (remote_id, online, since, updated_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (remote_id) DO UPDATE SET online = excluded.online,
                         since = excluded.since, updated_at = excluded.updated_at
                     WHERE connection_watch.online IS NULL",
                )
                .bind(remote_id)
                .bind(online)
                .bind(since)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(Health::First)
            }
            Some((Some(was), _)) if was == online => Ok(Health::Unchanged),
            Some((Some(was), previous)) => {
                let done = sqlx::query(
                    "UPDATE connection_watch SET online = $1, since = $2, updated_at = $3
                     WHERE remote_id = $4 AND online = $5",
                )
                .bind(online)
                .bind(since)
                .bind(now)
                .bind(remote_id)
                .bind(was)
                .execute(&self.pool)
                .await?;
                Ok(if done.rows_affected() == 1 {
                    Health::Changed {
                        since: previous.unwrap_or(since),
                    }
                } else {
                    Health::Unchanged
                })
            }
        }
    }

    /// Puts back what [`Store::record_health`] changed when the change could not be
    /// announced, so the next pass announces it: `online` back to its opposite, `since` to
    /// `before`. Only while the row still says `online` (nobody moved it on since).
    pub async fn undo_health(
        &self,
        remote_id: &str,
        online: bool,
        before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE connection_watch SET online = $1, since = $2, updated_at = $3
             WHERE remote_id = $4 AND online = $5",
        )
        .bind(i64::from(!online))
        .bind(before)
        .bind(now_ms())
        .bind(remote_id)
        .bind(i64::from(online))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives back a claimed invite note that could not be posted (`expired`: the expiry note,
    /// otherwise the warning), so the next pass posts it.
    pub async fn release_invite_note(
        &self,
        remote_id: &str,
        expired: bool,
    ) -> Result<(), StoreError> {
        let column = if expired {
            "invite_expired_at"
        } else {
            "invite_warned_at"
        };
        sqlx::query(&format!(
            "UPDATE connection_watch SET {column} = NULL WHERE remote_id = $1"
        ))
        .bind(remote_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the "invite expires soon" warning of `remote_id`: true once.
    pub async fn claim_invite_warning(&self, remote_id: &str) -> Result<bool, StoreError> {
        self.claim_invite_note(remote_id, "invite_warned_at").await
    }

    /// Claims the "invite expired" note of `remote_id`: true once.
    pub async fn claim_invite_expired(&self, remote_id: &str) -> Result<bool, StoreError> {
        self.claim_invite_note(remote_id, "invite_expired_at").await
    }

    async fn claim_invite_note(
        &self,
        remote_id: &str,
        column: &'static str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO connection_watch (remote_id, updated_at) VALUES ($1, $2)
             ON CONFLICT (remote_id) DO NOTHING",
        )
        .bind(remote_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        // `column` is one of two names written above, never outside input.
        let done = sqlx::query(&format!(
            "UPDATE connection_watch SET {column} = $1, updated_at = $1
             WHERE remote_id = $2 AND {column} IS NULL"
        ))
        .bind(now)
        .bind(remote_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
