//! The posts sent about each request: every admin's review DM (and the auto-accept notice in
//! the admin channel). A row is claimed before the post is sent and completed after, so a
//! restart never sends a second copy and every copy can be updated.

use std::collections::HashSet;

use super::requests::SHOWN_KEY_SQL;
use super::{Store, StoreError};
use crate::ids::now_ms;

/// One post about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPost {
    pub request_id: String,
    /// The admin the DM went to; for a channel notice, the channel's id.
    pub admin_user_id: String,
    pub channel_id: Option<String>,
    /// `None` while claimed but not yet confirmed sent.
    pub post_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// `dm` or `channel`.
    pub kind: String,
    /// The team this admin picked in the post's menu.
    pub chosen_team_id: Option<String>,
    /// The request state the post shows ([`super::ReviewRequest::shown_key`]).
    pub shown: String,
    /// The server refused for good to edit this post (its error id): it is left as it is.
    pub refused_edit: Option<String>,
}

/// Rows per `INSERT` in [`Store::claim_posts`].
const CLAIMS_PER_STATEMENT: usize = 200;

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
);

const COLUMNS: &str =
    "n.request_id, n.admin_user_id, n.channel_id, n.post_id, n.created_at, n.updated_at, \
     n.kind, n.chosen_team_id, n.shown, n.refused_edit";

fn notification(
    (
        request_id,
        admin_user_id,
        channel_id,
        post_id,
        created_at,
        updated_at,
        kind,
        chosen_team_id,
        shown,
        refused_edit,
    ): Row,
) -> NotificationPost {
    NotificationPost {
        request_id,
        admin_user_id,
        channel_id,
        post_id,
        created_at,
        updated_at,
        kind,
        chosen_team_id,
        shown,
        refused_edit,
    }
}

impl Store {
    /// Claims the right to notify `admin` about `request_id` by DM; false when it was claimed
    /// before (sent, or being sent).
    pub async fn claim_notification(
        &self,
        request_id: &str,
        admin_user_id: &str,
    ) -> Result<bool, StoreError> {
        self.claim_post(request_id, admin_user_id, "dm", None).await
    }

    /// Claims the right to post about `request_id` to `recipient` (an admin's id for `dm`, a
    /// channel's id for `channel`), recording the channel it will go to when known; false
    /// when it was claimed before.
    pub async fn claim_post(
        &self,
        request_id: &str,
        recipient: &str,
        kind: &str,
        channel_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO notification_posts (request_id, admin_user_id, kind, channel_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (request_id, admin_user_id) DO NOTHING",
        )
        .bind(request_id)
        .bind(recipient)
        .bind(kind)
        .bind(channel_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims several posts about `request_id` in one statement (a fan-out to every admin is
    /// one write): `(recipient, kind, channel)` each. Returns the recipients claimed now; the
    /// others were claimed before.
    pub async fn claim_posts(
        &self,
        request_id: &str,
        claims: &[(String, &str, String)],
    ) -> Result<HashSet<String>, StoreError> {
        let mut fresh = HashSet::new();
        let now = now_ms();
        // Three parameters a row and two shared: far under every engine's limit.
        for chunk in claims.chunks(CLAIMS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 3;
                    format!("($1, ${}, ${}, ${}, $2, $2)", p + 3, p + 4, p + 5)
                })
                .collect();
            let sql = format!(
                "INSERT INTO notification_posts (request_id, admin_user_id, kind, channel_id, created_at, updated_at) VALUES {}
                 ON CONFLICT (request_id, admin_user_id) DO NOTHING RETURNING admin_user_id",
                rows.join(", ")
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql)
                .bind(request_id)
                .bind(now);
            for (recipient, kind, channel) in chunk {
                query = query
                    .bind(recipient.as_str())
                    .bind(*kind)
                    .bind(channel.as_str());
            }
            fresh.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(fresh)
    }

    /// Records the channel a claimed post goes to, before it is sent (so a restart can look
    /// there for a post that was sent but not recorded).
    pub async fn set_notification_channel(
        &self,
        request_id: &str,
        recipient: &str,
        channel_id: &str,
    ) -> Result<(), StoreError> {
        self.set_notification_column("channel_id", request_id, recipient, channel_id)
            .await
    }

    /// Records the post that was sent for a claimed notification, and what it shows when
    /// that is known (one write).
    pub async fn complete_notification(
        &self,
        request_id: &str,
        admin_user_id: &str,
        channel_id: &str,
        post_id: &str,
        shown: Option<&str>,
        key_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_posts SET channel_id = $1, post_id = $2, shown = COALESCE($3, shown),
                 updated_at = $4, key_id = COALESCE($7, key_id)
             WHERE request_id = $5 AND admin_user_id = $6",
        )
        .bind(channel_id)
        .bind(post_id)
        .bind(shown)
        .bind(now_ms())
        .bind(request_id)
        .bind(admin_user_id)
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what a notification post now shows and the key that signed its buttons (one
    /// write, after an edit).
    pub async fn mark_shown_signed(
        &self,
        request_id: &str,
        recipient: &str,
        shown: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_posts SET shown = $1, key_id = $2, updated_at = $3 WHERE request_id = $4 AND admin_user_id = $5",
        )
        .bind(shown)
        .bind(key_id)
        .bind(now_ms())
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the id of the key that signed a notification post's buttons (at sending,
    /// editing or re-signing).
    pub async fn set_notification_key(
        &self,
        request_id: &str,
        recipient: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        self.set_notification_column("key_id", request_id, recipient, key_id)
            .await
    }

    /// Requests with a sent post whose buttons were signed with a key other than `key_id`
    /// (or before key ids were recorded), among those whose posts carry buttons (pending or
    /// accepted).
    pub async fn requests_signed_otherwise(&self, key_id: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT n.request_id FROM notification_posts n JOIN review_requests r ON r.id = n.request_id
             WHERE n.post_id IS NOT NULL AND (n.key_id IS NULL OR n.key_id <> $1)
               AND r.state IN ('pending', 'accepted') ORDER BY n.request_id",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// Records what a notification post now shows.
    pub async fn mark_shown(
        &self,
        request_id: &str,
        recipient: &str,
        shown: &str,
    ) -> Result<(), StoreError> {
        self.set_notification_column("shown", request_id, recipient, shown)
            .await
    }

    /// Records that the server refused for good to edit a notification post (`reason`: its
    /// error id): it is never edited again nor counted as out of date.
    pub async fn refuse_edit(
        &self,
        request_id: &str,
        recipient: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.set_notification_column("refused_edit", request_id, recipient, reason)
            .await
    }

    /// Records the team an admin picked in a post's menu.
    pub async fn choose_team(
        &self,
        request_id: &str,
        recipient: &str,
        team_id: &str,
    ) -> Result<(), StoreError> {
        self.set_notification_column("chosen_team_id", request_id, recipient, team_id)
            .await
    }

    /// Sets one text column of a notification (`column` is a fixed name, never input).
    async fn set_notification_column(
        &self,
        column: &'static str,
        request_id: &str,
        recipient: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE notification_posts SET {column} = $1, updated_at = $2 WHERE request_id = $3 AND admin_user_id = $4"
        ))
        .bind(value)
        .bind(now_ms())
        .bind(request_id)
        .bind(recipient)
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

    /// Every post about a request.
    pub async fn notifications(
        &self,
        request_id: &str,
    ) -> Result<Vec<NotificationPost>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM notification_posts n WHERE n.request_id = $1 ORDER BY n.admin_user_id"
        ))
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(notification).collect())
    }

    /// The notification that is the post `post_id`, if it is one.
    pub async fn notification_by_post(
        &self,
        post_id: &str,
    ) -> Result<Option<NotificationPost>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM notification_posts n WHERE n.post_id = $1"
        ))
        .bind(post_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(notification))
    }

    /// Sent posts that show an older state than their request's (and can still be edited).
    pub async fn stale_notifications(&self) -> Result<Vec<NotificationPost>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM notification_posts n JOIN review_requests r ON r.id = n.request_id
             WHERE n.post_id IS NOT NULL AND n.refused_edit IS NULL AND n.shown <> {SHOWN_KEY_SQL}
             ORDER BY n.created_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(notification).collect())
    }

    /// Forgets the recorded post of a notification, leaving the claim, as a crash between
    /// sending and recording leaves it (for tests of the recovery).
    #[doc(hidden)]
    pub async fn clear_post_for_tests(
        &self,
        request_id: &str,
        recipient: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_posts SET post_id = NULL WHERE request_id = $1 AND admin_user_id = $2",
        )
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
