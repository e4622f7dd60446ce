//! The DM post each admin got about a request. A row is claimed before the post is sent and
//! completed after, so a restart never sends a second copy and every copy can be updated.

use super::{now_ms, Store, StoreError};

/// One admin's notification about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPost {
    pub request_id: String,
    pub admin_user_id: String,
    pub channel_id: Option<String>,
    /// `None` while claimed but not yet confirmed sent.
    pub post_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

type Row = (String, String, Option<String>, Option<String>, i64, i64);

fn notification(
    (request_id, admin_user_id, channel_id, post_id, created_at, updated_at): Row,
) -> NotificationPost {
    NotificationPost {
        request_id,
        admin_user_id,
        channel_id,
        post_id,
        created_at,
        updated_at,
    }
}

impl Store {
    /// Claims the right to notify `admin` about `request_id`; false when it was claimed before
    /// (sent, or being sent).
    pub async fn claim_notification(
        &self,
        request_id: &str,
        admin_user_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO notification_posts (request_id, admin_user_id, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (request_id, admin_user_id) DO NOTHING",
        )
        .bind(request_id)
        .bind(admin_user_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the post that was sent for a claimed notification.
    pub async fn complete_notification(
        &self,
        request_id: &str,
        admin_user_id: &str,
        channel_id: &str,
        post_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_posts SET channel_id = $1, post_id = $2, updated_at = $3
             WHERE request_id = $4 AND admin_user_id = $5",
        )
        .bind(channel_id)
        .bind(post_id)
        .bind(now_ms())
        .bind(request_id)
        .bind(admin_user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Releases a claim whose post could not be sent, so a later attempt can send it.
    pub async fn release_notification(
        &self,
        request_id: &str,
        admin_user_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM notification_posts WHERE request_id = $1 AND admin_user_id = $2 AND post_id IS NULL")
            .bind(request_id)
            .bind(admin_user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every admin's notification about a request.
    pub async fn notifications(
        &self,
        request_id: &str,
    ) -> Result<Vec<NotificationPost>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT request_id, admin_user_id, channel_id, post_id, created_at, updated_at
             FROM notification_posts WHERE request_id = $1 ORDER BY admin_user_id",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(notification).collect())
    }
}
