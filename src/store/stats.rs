//! Counts for the metrics: review requests by state and connection, and the oldest of each.

use super::{Store, StoreError};

/// Review requests of one state from one connection: how many, and when the oldest arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    pub state: String,
    pub remote_id: String,
    pub count: i64,
    /// `created_at` (ms) of the oldest.
    pub oldest: i64,
}

impl Store {
    /// Review requests grouped by state and connection.
    pub async fn request_counts(&self) -> Result<Vec<RequestCount>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT state, remote_id, COUNT(*), MIN(created_at) FROM review_requests
             GROUP BY state, remote_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(state, remote_id, count, oldest)| RequestCount {
                state,
                remote_id,
                count,
                oldest,
            })
            .collect())
    }
}
