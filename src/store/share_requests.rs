//! Members' share requests (`pending → approved | denied | withdrawn`) and the posts about
//! them: each transition is one conditional update written with its audit entry, each post is
//! claimed before it is sent, so concurrent clicks give one decision and a restart neither
//! loses nor repeats anything.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// Where a share request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    Pending,
    Approved,
    Denied,
    Withdrawn,
}

impl ShareState {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareState::Pending => "pending",
            ShareState::Approved => "approved",
            ShareState::Denied => "denied",
            ShareState::Withdrawn => "withdrawn",
        }
    }

    fn parse(text: &str) -> Result<ShareState, StoreError> {
        Ok(match text {
            "pending" => ShareState::Pending,
            "approved" => ShareState::Approved,
            "denied" => ShareState::Denied,
            "withdrawn" => ShareState::Withdrawn,
            other => {
                return Err(StoreError::Corrupt {
                    column: "share_requests.state",
                    value: other.to_string(),
                })
            }
        })
    }

    /// The audit action of reaching this state (`share.requested` for a new request).
    pub fn audit_action(self) -> &'static str {
        match self {
            ShareState::Pending => "share.requested",
            ShareState::Approved => "share.approved",
            ShareState::Denied => "share.denied",
            ShareState::Withdrawn => "share.withdrawn",
        }
    }
}

/// One member's request to share a channel with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRequest {
    pub id: String,
    /// What the asker types in `withdraw <n>`.
    pub number: i64,
    pub channel_id: String,
    pub channel_name: String,
    pub remote_id: String,
    pub org_name: String,
    pub asked_by: String,
    pub asked_in: String,
    pub asked_root: String,
    pub note: String,
    pub state: ShareState,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: String,
    /// `''` until an approval's share was made, then how it went.
    pub applied: String,
    pub fanned_out: bool,
    pub finished_at: Option<i64>,
    pub created_at: i64,
}

/// What a new request records.
#[derive(Debug, Clone)]
pub struct NewShareRequest<'a> {
    pub channel_id: &'a str,
    pub channel_name: &'a str,
    pub remote_id: &'a str,
    pub org_name: &'a str,
    pub asked_by: &'a str,
    pub asked_in: &'a str,
    pub asked_root: &'a str,
    pub note: &'a str,
}

/// One post about a share request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePost {
    pub request_id: String,
    /// An approver's id, `asker` (the confirmation) or `outcome` (the asker's result DM).
    pub recipient: String,
    pub channel_id: String,
    pub root_id: String,
    /// `None` while claimed and not yet recorded as sent.
    pub post_id: Option<String>,
    pub shown: String,
    /// When the post was claimed.
    pub created_at: i64,
}

const COLUMNS: &str = "id, number, channel_id, channel_name, remote_id, org_name, asked_by, \
     asked_in, asked_root, note, state, decided_by, decided_at, reason, applied, fanned_out, \
     finished_at, created_at";

/// A row of [`COLUMNS`] (more columns than sqlx's tuples read).
struct Row(ShareRequest);

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for Row {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        let state: String = row.try_get("state")?;
        let state =
            ShareState::parse(&state).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        let fanned_out: i64 = row.try_get("fanned_out")?;
        Ok(Row(ShareRequest {
            id: row.try_get("id")?,
            number: row.try_get("number")?,
            channel_id: row.try_get("channel_id")?,
            channel_name: row.try_get("channel_name")?,
            remote_id: row.try_get("remote_id")?,
            org_name: row.try_get("org_name")?,
            asked_by: row.try_get("asked_by")?,
            asked_in: row.try_get("asked_in")?,
            asked_root: row.try_get("asked_root")?,
            note: row.try_get("note")?,
            state,
            decided_by: row.try_get("decided_by")?,
            decided_at: row.try_get("decided_at")?,
            reason: row.try_get("reason")?,
            applied: row.try_get("applied")?,
            fanned_out: fanned_out != 0,
            finished_at: row.try_get("finished_at")?,
            created_at: row.try_get("created_at")?,
        }))
    }
}

fn request(row: Row) -> Result<ShareRequest, StoreError> {
    Ok(row.0)
}

type PostRow = (String, String, String, String, Option<String>, String, i64);

fn share_post(
    (request_id, recipient, channel_id, root_id, post_id, shown, created_at): PostRow,
) -> SharePost {
    SharePost {
        request_id,
        recipient,
        channel_id,
        root_id,
        post_id,
        shown,
        created_at,
    }
}

const POST_COLUMNS: &str = "request_id, recipient, channel_id, root_id, post_id, shown, created_at";

/// How many times a new request retries its number when another took it at the same moment.
const NUMBER_TRIES: usize = 5;

impl Store {
    /// Records a new pending request with the next number, and its `share.requested` audit
    /// entry, in one transaction. `Err(existing)` when the same channel already has a
    /// pending request for that connection.
    pub async fn add_share_request(
        &self,
        new: &NewShareRequest<'_>,
        detail: &str,
    ) -> Result<Result<ShareRequest, ShareRequest>, StoreError> {
        for _ in 0..NUMBER_TRIES {
            if let Some(open) = self
                .pending_share_request(new.channel_id, new.remote_id)
                .await?
            {
                return Ok(Err(open));
            }
            let id = crate::ids::new_id();
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            let inserted = sqlx::query(
                "INSERT INTO share_requests (id, number, channel_id, channel_name, remote_id, org_name,
                     asked_by, asked_in, asked_root, note, state, created_at, updated_at)
                 SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10
                 FROM share_requests",
            )
            .bind(&id)
            .bind(new.channel_id)
            .bind(new.channel_name)
            .bind(new.remote_id)
            .bind(new.org_name)
            .bind(new.asked_by)
            .bind(new.asked_in)
            .bind(new.asked_root)
            .bind(new.note)
            .bind(now)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                // Another request took the number, or the channel's pending slot: look again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
            let action = ShareState::Pending.audit_action();
            super::audit::audit_in(&mut tx, now, new.asked_by, action, &id, detail).await?;
            tx.commit().await?;
            return match self.share_request(&id).await? {
                Some(r) => Ok(Ok(r)),
                None => Err(StoreError::Corrupt {
                    column: "share_requests.id",
                    value: id,
                }),
            };
        }
        Err(StoreError::Corrupt {
            column: "share_requests.number",
            value: "taken by concurrent requests".into(),
        })
    }

    pub async fn share_request(&self, id: &str) -> Result<Option<ShareRequest>, StoreError> {
        self.one_share_request("id = $1", id).await
    }

    pub async fn share_request_by_number(
        &self,
        number: i64,
    ) -> Result<Option<ShareRequest>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM share_requests WHERE number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.map(request).transpose()
    }

    async fn one_share_request(
        &self,
        condition: &'static str,
        value: &str,
    ) -> Result<Option<ShareRequest>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM share_requests WHERE {condition}"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        row.map(request).transpose()
    }

    async fn pending_share_request(
        &self,
        channel_id: &str,
        remote_id: &str,
    ) -> Result<Option<ShareRequest>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM share_requests WHERE channel_id = $1 AND remote_id = $2 AND state = 'pending'"
        ))
        .bind(channel_id)
        .bind(remote_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(request).transpose()
    }

    /// Pending requests, oldest (lowest number) first.
    pub async fn pending_share_requests(&self) -> Result<Vec<ShareRequest>, StoreError> {
        self.share_requests_where("state = 'pending'").await
    }

    /// Requests with work left: pending ones not sent to every approver, decided ones not
    /// finished.
    pub async fn unfinished_share_requests(&self) -> Result<Vec<ShareRequest>, StoreError> {
        self.share_requests_where(
            "(state = 'pending' AND fanned_out = 0) OR (state <> 'pending' AND finished_at IS NULL)",
        )
        .await
    }

    async fn share_requests_where(
        &self,
        condition: &'static str,
    ) -> Result<Vec<ShareRequest>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM share_requests WHERE {condition} ORDER BY number"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(request).collect()
    }

    /// The decision: `pending → to`, by one conditional update written with its audit entry
    /// in one transaction. False when the request was no longer pending (another click won),
    /// or, for a withdrawal, when `by` is not the asker.
    pub async fn decide_share_request(
        &self,
        id: &str,
        to: ShareState,
        by: &str,
        reason: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE share_requests SET state = $1, decided_by = $2, decided_at = $3, reason = $4, updated_at = $3
             WHERE id = $5 AND state = 'pending' AND ($6 = 0 OR asked_by = $2)",
        )
        .bind(to.as_str())
        .bind(by)
        .bind(now)
        .bind(reason)
        .bind(id)
        .bind(i64::from(to == ShareState::Withdrawn))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::audit_in(&mut tx, now, by, to.audit_action(), id, detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records how an approval's share went (once: a later call changes nothing).
    pub async fn share_request_applied(&self, id: &str, applied: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE share_requests SET applied = $1, updated_at = $2 WHERE id = $3 AND applied = ''",
        )
        .bind(applied)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every approver was sent the request.
    pub async fn share_request_fanned_out(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE share_requests SET fanned_out = 1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every post shows the decision and the asker was told.
    pub async fn share_request_finished(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE share_requests SET finished_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Claims the post about `request_id` for `recipient` in `channel_id`; false when it was
    /// claimed before (sent, or cut short by a restart).
    pub async fn claim_share_post(
        &self,
        request_id: &str,
        recipient: &str,
        channel_id: &str,
        root_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO share_request_posts (request_id, recipient, channel_id, root_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (request_id, recipient) DO NOTHING",
        )
        .bind(request_id)
        .bind(recipient)
        .bind(channel_id)
        .bind(root_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the post sent for a claim, what it shows and the key that signed its buttons.
    pub async fn share_post_sent(
        &self,
        request_id: &str,
        recipient: &str,
        post_id: &str,
        shown: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE share_request_posts SET post_id = $1, shown = $2, key_id = $3, updated_at = $4
             WHERE request_id = $5 AND recipient = $6",
        )
        .bind(post_id)
        .bind(shown)
        .bind(key_id)
        .bind(now_ms())
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what a post shows now (after an edit).
    pub async fn share_post_shown(
        &self,
        request_id: &str,
        recipient: &str,
        shown: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE share_request_posts SET shown = $1, updated_at = $2 WHERE request_id = $3 AND recipient = $4",
        )
        .bind(shown)
        .bind(now_ms())
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sent posts with buttons (of pending requests) whose buttons were signed with a key
    /// other than `key_id`: re-signed at start-up after `server.secret` changed.
    pub async fn share_posts_signed_otherwise(
        &self,
        key_id: &str,
    ) -> Result<Vec<SharePost>, StoreError> {
        let rows: Vec<PostRow> = sqlx::query_as(
            "SELECT p.request_id, p.recipient, p.channel_id, p.root_id, p.post_id, p.shown, p.created_at
             FROM share_request_posts p JOIN share_requests r ON r.id = p.request_id
             WHERE r.state = 'pending' AND p.post_id IS NOT NULL AND p.recipient <> 'outcome'
               AND (p.key_id IS NULL OR p.key_id <> $1)
             ORDER BY p.created_at",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(share_post).collect())
    }

    /// Records the key that signed a post's buttons now.
    pub async fn share_post_signed(
        &self,
        request_id: &str,
        recipient: &str,
        key_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE share_request_posts SET key_id = $1, updated_at = $2 WHERE request_id = $3 AND recipient = $4",
        )
        .bind(key_id)
        .bind(now_ms())
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every post about a request.
    pub async fn share_posts(&self, request_id: &str) -> Result<Vec<SharePost>, StoreError> {
        let rows: Vec<PostRow> = sqlx::query_as(&format!(
            "SELECT {POST_COLUMNS} FROM share_request_posts WHERE request_id = $1 ORDER BY recipient"
        ))
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(share_post).collect())
    }

    /// The post about a share request that is the post `post_id`, if any.
    pub async fn share_post_by_post(&self, post_id: &str) -> Result<Option<SharePost>, StoreError> {
        let row: Option<PostRow> = sqlx::query_as(&format!(
            "SELECT {POST_COLUMNS} FROM share_request_posts WHERE post_id = $1"
        ))
        .bind(post_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(share_post))
    }

    /// Forgets a post's record, leaving the claim, as a crash between sending and recording
    /// leaves it (for tests of the recovery).
    #[doc(hidden)]
    pub async fn forget_share_post_for_tests(
        &self,
        request_id: &str,
        recipient: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE share_request_posts SET post_id = NULL WHERE request_id = $1 AND recipient = $2",
        )
        .bind(request_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a decision without doing its work, as a crash right after the click leaves it
    /// (for tests of the recovery).
    #[doc(hidden)]
    pub async fn decide_share_request_for_tests(
        &self,
        id: &str,
        to: ShareState,
        by: &str,
    ) -> Result<bool, StoreError> {
        self.decide_share_request(id, to, by, "", "{}").await
    }
}
