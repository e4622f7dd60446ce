//! Review requests: one per arrival of a shared channel, a small state machine
//! `pending → accepted(team) | rejected | withdrawn` where every transition is one conditional
//! update, so two admins deciding at once yield exactly one decision.

use super::{now_ms, Store, StoreError};
use crate::ids::new_id;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Pending,
    Accepted,
    Rejected,
    /// The remote stopped sharing (or the channel vanished) before anyone decided.
    Withdrawn,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Accepted => "accepted",
            RequestState::Rejected => "rejected",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Result<RequestState, StoreError> {
        Ok(match s {
            "pending" => RequestState::Pending,
            "accepted" => RequestState::Accepted,
            "rejected" => RequestState::Rejected,
            "withdrawn" => RequestState::Withdrawn,
            other => {
                return Err(StoreError::Corrupt {
                    column: "review_requests.state",
                    value: other.to_string(),
                })
            }
        })
    }
}

/// A shared channel that arrived and what was decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    pub id: String,
    pub remote_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub channel_display_name: String,
    /// Mattermost channel type: `O` (public) or `P` (private).
    pub channel_type: String,
    pub channel_purpose: String,
    pub state: RequestState,
    /// The team the channel was accepted into.
    pub team_id: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
    pub reminded_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What is known of a channel when it is discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub remote_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub channel_display_name: String,
    pub channel_type: String,
    pub channel_purpose: String,
}

/// The outcome of trying to decide a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// This call made the decision; the request as it now is.
    Made(ReviewRequest),
    /// Someone (or something) decided first; the request as they left it.
    AlreadyDecided(ReviewRequest),
    NotFound,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

const COLUMNS: &str = "id, remote_id, channel_id, channel_name, channel_display_name, channel_type, channel_purpose, \
     state, team_id, decided_by, decided_at, note, reminded_at, created_at, updated_at";

fn request(row: Row) -> Result<ReviewRequest, StoreError> {
    let (
        id,
        remote_id,
        channel_id,
        channel_name,
        channel_display_name,
        channel_type,
        channel_purpose,
        state,
        team_id,
        decided_by,
        decided_at,
        note,
        reminded_at,
        created_at,
        updated_at,
    ) = row;
    Ok(ReviewRequest {
        id,
        remote_id,
        channel_id,
        channel_name,
        channel_display_name,
        channel_type,
        channel_purpose,
        state: RequestState::parse(&state)?,
        team_id,
        decided_by,
        decided_at,
        note,
        reminded_at,
        created_at,
        updated_at,
    })
}

impl Store {
    /// Records a discovered channel as a pending request, unless one is already pending for it;
    /// returns the pending request and whether this call created it.
    pub async fn open_request(
        &self,
        new: &NewRequest,
    ) -> Result<(ReviewRequest, bool), StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO review_requests (id, remote_id, channel_id, channel_name, channel_display_name, channel_type,
                 channel_purpose, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)
             ON CONFLICT (channel_id) WHERE state = 'pending' DO NOTHING",
        )
        .bind(new_id())
        .bind(&new.remote_id)
        .bind(&new.channel_id)
        .bind(&new.channel_name)
        .bind(&new.channel_display_name)
        .bind(&new.channel_type)
        .bind(&new.channel_purpose)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let pending = self
            .pending_request_for_channel(&new.channel_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        Ok((pending, done.rows_affected() == 1))
    }

    /// Requests matching `filter` (a SQL condition over one optional `$1` text argument),
    /// oldest first.
    async fn select(
        &self,
        filter: &str,
        arg: Option<&str>,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM review_requests WHERE {filter} ORDER BY created_at, id");
        let mut query = sqlx::query_as::<_, Row>(&sql);
        if let Some(arg) = arg {
            query = query.bind(arg);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(request)
            .collect()
    }

    /// A request by id.
    pub async fn request(&self, id: &str) -> Result<Option<ReviewRequest>, StoreError> {
        Ok(self.select("id = $1", Some(id)).await?.pop())
    }

    /// The pending request for a channel, if any (there is at most one).
    pub async fn pending_request_for_channel(
        &self,
        channel_id: &str,
    ) -> Result<Option<ReviewRequest>, StoreError> {
        Ok(self
            .select("channel_id = $1 AND state = 'pending'", Some(channel_id))
            .await?
            .pop())
    }

    /// Every request about a channel, oldest first.
    pub async fn requests_for_channel(
        &self,
        channel_id: &str,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("channel_id = $1", Some(channel_id)).await
    }

    /// Every pending request, oldest first.
    pub async fn pending_requests(&self) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("state = 'pending'", None).await
    }

    /// Moves a pending request to `to` in one conditional update; exactly one caller wins.
    pub async fn decide(
        &self,
        id: &str,
        to: RequestState,
        team_id: Option<&str>,
        by: &str,
        note: Option<&str>,
    ) -> Result<Decision, StoreError> {
        if to == RequestState::Pending {
            return Ok(match self.request(id).await? {
                Some(r) => Decision::AlreadyDecided(r),
                None => Decision::NotFound,
            });
        }
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE review_requests SET state = $1, team_id = $2, decided_by = $3, decided_at = $4, note = $5, updated_at = $4
             WHERE id = $6 AND state = 'pending'",
        )
        .bind(to.as_str())
        .bind(team_id)
        .bind(by)
        .bind(now)
        .bind(note)
        .bind(id)
        .execute(&self.pool)
        .await?;
        let current = self.request(id).await?;
        Ok(match (done.rows_affected(), current) {
            (_, None) => Decision::NotFound,
            (1, Some(r)) => Decision::Made(r),
            (_, Some(r)) => Decision::AlreadyDecided(r),
        })
    }

    /// Records that the admins were reminded of a pending request.
    pub async fn mark_reminded(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query("UPDATE review_requests SET reminded_at = $1, updated_at = $1 WHERE id = $2 AND state = 'pending'")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
