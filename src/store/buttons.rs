//! The posts that carry command buttons: recorded before they are sent, bound to the post
//! they were sent as, closed once answered, and re-signed when signed with an older key.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// A post with command buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPost {
    /// The id every button of the post carries (signed) in its context.
    pub button_id: String,
    /// `None` until the post was sent and recorded.
    pub post_id: Option<String>,
    pub channel_id: String,
    /// The post's props as sent, JSON.
    pub props: String,
    /// The id of the key that signed the buttons.
    pub key_id: String,
    /// When the buttons were answered (the post no longer has any).
    pub closed_at: Option<i64>,
}

type Row = (String, Option<String>, String, String, String, Option<i64>);

const COLUMNS: &str = "button_id, post_id, channel_id, props, key_id, closed_at";

fn button_post((button_id, post_id, channel_id, props, key_id, closed_at): Row) -> ButtonPost {
    ButtonPost {
        button_id,
        post_id,
        channel_id,
        props,
        key_id,
        closed_at,
    }
}

impl Store {
    /// Records a post with buttons before it is sent.
    pub async fn record_button_post(
        &self,
        button_id: &str,
        channel_id: &str,
        props: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO button_posts (button_id, channel_id, props, key_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(button_id)
        .bind(channel_id)
        .bind(props)
        .bind(key_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the post the buttons were sent as.
    pub async fn button_post_sent(&self, button_id: &str, post_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE button_posts SET post_id = $1, updated_at = $2 WHERE button_id = $3")
            .bind(post_id)
            .bind(now_ms())
            .bind(button_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The recorded post with buttons that is the post `post_id`, if any.
    pub async fn button_post(&self, post_id: &str) -> Result<Option<ButtonPost>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM button_posts WHERE post_id = $1"
        ))
        .bind(post_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(button_post))
    }

    /// Marks a post's buttons answered; false when they already were (a replayed click).
    pub async fn close_button_post(&self, button_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE button_posts SET closed_at = $1, updated_at = $1 WHERE button_id = $2 AND closed_at IS NULL",
        )
        .bind(now_ms())
        .bind(button_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a post's re-signed props.
    pub async fn resign_button_post(
        &self,
        button_id: &str,
        props: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE button_posts SET props = $1, key_id = $2, updated_at = $3 WHERE button_id = $4",
        )
        .bind(props)
        .bind(key_id)
        .bind(now_ms())
        .bind(button_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Open, sent posts whose buttons were signed with a key other than `key_id`.
    pub async fn button_posts_signed_otherwise(
        &self,
        key_id: &str,
    ) -> Result<Vec<ButtonPost>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM button_posts
             WHERE post_id IS NOT NULL AND closed_at IS NULL AND key_id <> $1 ORDER BY created_at"
        ))
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(button_post).collect())
    }
}
