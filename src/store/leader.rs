//! The leader epoch: raised by each replica that starts to lead, read by `connections`, and
//! checked before the leader's loops act on Mattermost.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// Who leads, as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    /// Raised by one at each new leader; 0 before the first.
    pub epoch: i64,
    /// The leading replica's name (empty before the first leader).
    pub replica: String,
    /// When it started to lead (ms since the epoch; 0 before the first leader).
    pub since: i64,
}

impl Store {
    /// Records that `replica` leads from now on: the epoch is raised by one and returned.
    /// On PostgreSQL this waits for every fenced write of the previous epoch in flight, and
    /// every later one of that epoch is refused.
    pub async fn begin_epoch(&self, replica: &str) -> Result<i64, StoreError> {
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE leader_epoch SET epoch = epoch + 1, replica = $1, since = $2 WHERE id = 1 RETURNING epoch",
        )
        .bind(replica)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(epoch)
    }

    /// Who leads now, as recorded.
    pub async fn leadership(&self) -> Result<Leadership, StoreError> {
        let (epoch, replica, since): (i64, String, i64) =
            sqlx::query_as("SELECT epoch, replica, since FROM leader_epoch WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(Leadership {
            epoch,
            replica,
            since,
        })
    }

    /// The epoch this store's writes are fenced with, if any.
    pub fn fence(&self) -> Option<i64> {
        self.fence
    }

    /// Before an action on Mattermost that a write cannot fence (sending a post): fails with
    /// [`StoreError::Fenced`] when this store is fenced and another replica leads now.
    /// Unfenced stores (callbacks, SQLite) never ask the database.
    pub async fn check_fence(&self) -> Result<(), StoreError> {
        let Some(mine) = self.fence else {
            return Ok(());
        };
        let now: i64 = sqlx::query_scalar("SELECT epoch FROM leader_epoch WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        if now == mine {
            Ok(())
        } else {
            Err(StoreError::Fenced(mine))
        }
    }
}
