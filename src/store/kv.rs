//! Key/value runtime state (e.g. the WebSocket resume point). Never holds a secret.

use super::{Store, StoreError};
use crate::ids::now_ms;

impl Store {
    /// The value stored under `key`.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub async fn kv_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes `key`; true when it existed.
    pub async fn kv_delete(&self, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM kv WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
