//! What the chat commands keep: shares waiting for a connection to be accepted, and which
//! command posts were handled (so a replayed event runs nothing twice).

use super::{Store, StoreError};
use crate::ids::now_ms;

/// A channel waiting to be shared with a connection the other side has not accepted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingShare {
    pub remote_id: String,
    pub channel_id: String,
    pub requested_by: String,
    pub created_at: i64,
}

/// What claiming a command post found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandClaim {
    /// First sight: handle it.
    New,
    /// Handled before: do nothing.
    Done,
    /// Claimed before and never finished (the process died while handling it).
    Interrupted,
}

impl Store {
    /// Remembers that `channel_id` is to be shared with `remote_id` once it is confirmed;
    /// false when it was already waiting.
    pub async fn add_waiting_share(
        &self,
        remote_id: &str,
        channel_id: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO waiting_shares (remote_id, channel_id, requested_by, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (remote_id, channel_id) DO NOTHING",
        )
        .bind(remote_id)
        .bind(channel_id)
        .bind(by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Shares waiting for one connection (or every connection), oldest first.
    pub async fn waiting_shares(
        &self,
        remote_id: Option<&str>,
    ) -> Result<Vec<WaitingShare>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT remote_id, channel_id, requested_by, created_at FROM waiting_shares
             WHERE $1 = '' OR remote_id = $1 ORDER BY created_at, channel_id",
        )
        .bind(remote_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(remote_id, channel_id, requested_by, created_at)| WaitingShare {
                    remote_id,
                    channel_id,
                    requested_by,
                    created_at,
                },
            )
            .collect())
    }

    /// Drops a waiting share (sent, or no longer wanted); true when there was one.
    pub async fn remove_waiting_share(
        &self,
        remote_id: &str,
        channel_id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM waiting_shares WHERE remote_id = $1 AND channel_id = $2")
                .bind(remote_id)
                .bind(channel_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Drops every waiting share of a connection (it was deleted).
    pub async fn forget_waiting_shares(&self, remote_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM waiting_shares WHERE remote_id = $1")
            .bind(remote_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Claims a command post before handling it.
    pub async fn claim_command(
        &self,
        post_id: &str,
        user_id: &str,
    ) -> Result<CommandClaim, StoreError> {
        let done = sqlx::query(
            "INSERT INTO handled_commands (post_id, user_id, done, created_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (post_id) DO NOTHING",
        )
        .bind(post_id)
        .bind(user_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(CommandClaim::New);
        }
        let (finished,): (i64,) =
            sqlx::query_as("SELECT done FROM handled_commands WHERE post_id = $1")
                .bind(post_id)
                .fetch_one(&self.pool)
                .await?;
        // Report an interrupted command once: mark it done now.
        if finished == 0 {
            self.finish_command(post_id).await?;
            return Ok(CommandClaim::Interrupted);
        }
        Ok(CommandClaim::Done)
    }

    /// Marks a claimed command post handled.
    pub async fn finish_command(&self, post_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE handled_commands SET done = 1 WHERE post_id = $1")
            .bind(post_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
