//! Review requests: one per arrival of a shared channel, a small state machine
//! `pending → accepted(team) | rejected | withdrawn` where every transition is one conditional
//! update, so two admins deciding at once yield exactly one decision.

use super::{Claim, Decider, How, Store, StoreError, Verdict};
use crate::ids::new_id;
use crate::ids::now_ms;

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
    pub decided_by: Option<Decider>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
    pub reminded_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The organization (the connection's display name) when the channel arrived.
    pub org_name: String,
    pub channel_header: String,
    /// The team the menu suggests.
    pub suggested_team_id: Option<String>,
    /// The channel went straight to its team (auto-accept policy); no review was asked.
    pub auto_accepted: bool,
    /// A decision being applied while the request is still pending (accept or reject).
    pub deciding: Option<Verdict>,
    /// Steps of that decision already done, comma-terminated (`notice,`).
    pub progress: String,
    /// The team first accepted into, once the channel was moved elsewhere.
    pub accepted_team_id: Option<String>,
    /// Who made the latest move, and when.
    pub moved_by: Option<String>,
    pub moved_at: Option<i64>,
    /// A relocation recorded and not yet done or rolled back: the team and who asked.
    pub relocating_to: Option<String>,
    pub relocating_by: Option<String>,
    /// The routing rule that decided it, as it read then ("rule 2 of org-b: `eng-*`").
    pub rule: Option<String>,
}

impl ReviewRequest {
    /// What a notification post about this request shows: when it differs from the post's
    /// recorded `shown`, the post is out of date. Kept in step with [`SHOWN_KEY_SQL`].
    pub fn shown_key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.state.as_str(),
            self.team_id.as_deref().unwrap_or_default(),
            self.deciding.map(Verdict::as_str).unwrap_or_default()
        )
    }

    /// How the request was (or is being) decided, as far as the database tells: a withdrawal,
    /// the auto-accept policy or a routing rule, or sharebot declining it on expiry; `None` while pending and for
    /// an admin's decision (a click and the dialog are stored alike).
    pub fn how(&self) -> Option<How> {
        if self.state == RequestState::Withdrawn {
            return Some(How::Withdrawal);
        }
        if self.auto_accepted || self.rule.is_some() {
            return Some(How::Rule);
        }
        match (&self.decided_by, self.verdict()) {
            (Some(Decider::Sharebot), Some(Verdict::Reject)) => Some(How::Expiry),
            _ => None,
        }
    }

    /// What was (or is being) decided: the verdict being applied, else the one the state
    /// tells of; `None` while pending.
    pub fn verdict(&self) -> Option<Verdict> {
        self.deciding.or(match self.state {
            RequestState::Pending => None,
            RequestState::Accepted => Some(Verdict::Accept),
            RequestState::Rejected => Some(Verdict::Reject),
            RequestState::Withdrawn => Some(Verdict::Withdraw),
        })
    }

    /// Whether the step named `step` of the current decision was done.
    pub fn did(&self, step: &str) -> bool {
        self.progress.split(',').any(|s| s == step)
    }
}

/// [`ReviewRequest::shown_key`] in SQL over `review_requests r`.
pub(super) const SHOWN_KEY_SQL: &str =
    "r.state || ':' || COALESCE(r.team_id, '') || ':' || COALESCE(r.deciding, '')";

/// What is known of a channel when it is discovered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRequest {
    pub remote_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub channel_display_name: String,
    pub channel_type: String,
    pub channel_purpose: String,
    pub channel_header: String,
    pub org_name: String,
    pub suggested_team_id: Option<String>,
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

const COLUMNS: &str = "id, remote_id, channel_id, channel_name, channel_display_name, channel_type, channel_purpose, \
     state, team_id, decided_by, decided_at, note, reminded_at, created_at, updated_at, \
     org_name, channel_header, suggested_team_id, auto_accepted, deciding, progress, \
     accepted_team_id, moved_by, moved_at, relocating_to, relocating_by, decided_by_rule";

fn request(row: &sqlx::any::AnyRow) -> Result<ReviewRequest, StoreError> {
    use sqlx::Row;
    let state: String = row.try_get("state")?;
    let auto_accepted: i64 = row.try_get("auto_accepted")?;
    let deciding: Option<String> = row.try_get("deciding")?;
    let decided_by: Option<String> = row.try_get("decided_by")?;
    Ok(ReviewRequest {
        id: row.try_get("id")?,
        remote_id: row.try_get("remote_id")?,
        channel_id: row.try_get("channel_id")?,
        channel_name: row.try_get("channel_name")?,
        channel_display_name: row.try_get("channel_display_name")?,
        channel_type: row.try_get("channel_type")?,
        channel_purpose: row.try_get("channel_purpose")?,
        state: RequestState::parse(&state)?,
        team_id: row.try_get("team_id")?,
        decided_by: decided_by.map(Decider::parse),
        decided_at: row.try_get("decided_at")?,
        note: row.try_get("note")?,
        reminded_at: row.try_get("reminded_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        org_name: row.try_get("org_name")?,
        channel_header: row.try_get("channel_header")?,
        suggested_team_id: row.try_get("suggested_team_id")?,
        auto_accepted: auto_accepted != 0,
        deciding: deciding.as_deref().map(Verdict::parse).transpose()?,
        progress: row.try_get("progress")?,
        accepted_team_id: row.try_get("accepted_team_id")?,
        moved_by: row.try_get("moved_by")?,
        moved_at: row.try_get("moved_at")?,
        relocating_to: row.try_get("relocating_to")?,
        relocating_by: row.try_get("relocating_by")?,
        rule: row.try_get("decided_by_rule")?,
    })
}

impl Store {
    /// Records a discovered channel as a pending request, unless the channel has a request
    /// already (pending, accepted or rejected: one per channel whatever its state, a withdrawn
    /// one aside); returns the channel's request and whether this call created it. A second
    /// discovery, even a concurrent one, is a no-op.
    pub async fn open_request(
        &self,
        new: &NewRequest,
    ) -> Result<(ReviewRequest, bool), StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO review_requests (id, remote_id, channel_id, channel_name, channel_display_name, channel_type,
                 channel_purpose, state, created_at, updated_at, org_name, channel_header, suggested_team_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10, $11)
             ON CONFLICT (channel_id) WHERE state <> 'withdrawn' DO NOTHING",
        )
        .bind(new_id())
        .bind(&new.remote_id)
        .bind(&new.channel_id)
        .bind(&new.channel_name)
        .bind(&new.channel_display_name)
        .bind(&new.channel_type)
        .bind(&new.channel_purpose)
        .bind(now)
        .bind(&new.org_name)
        .bind(&new.channel_header)
        .bind(new.suggested_team_id.as_deref())
        .execute(&self.pool)
        .await?;
        let current = self
            .live_request_for_channel(&new.channel_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        Ok((current, done.rows_affected() == 1))
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
        let mut query = sqlx::query(&sql);
        if let Some(arg) = arg {
            query = query.bind(arg);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
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

    /// The channel's request that is not withdrawn, if any (there is at most one).
    pub async fn live_request_for_channel(
        &self,
        channel_id: &str,
    ) -> Result<Option<ReviewRequest>, StoreError> {
        Ok(self
            .select("channel_id = $1 AND state <> 'withdrawn'", Some(channel_id))
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

    /// The newest request about a channel called `name` (its name or display name, in any
    /// case), for commands that name a received channel by what people see.
    pub async fn request_by_channel_name(
        &self,
        name: &str,
    ) -> Result<Option<ReviewRequest>, StoreError> {
        Ok(self
            .select(
                "(LOWER(channel_display_name) = LOWER($1) OR LOWER(channel_name) = LOWER($1))",
                Some(name),
            )
            .await?
            .pop())
    }

    /// The declined (rejected or expired) requests from one connection, oldest first.
    pub async fn rejected_requests(
        &self,
        remote_id: &str,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("remote_id = $1 AND state = 'rejected'", Some(remote_id))
            .await
    }

    /// Every pending request, oldest first.
    pub async fn pending_requests(&self) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("state = 'pending'", None).await
    }

    /// Up to `limit` pending requests that come after `after` (`(created_at, id)` of the last
    /// one read; `None` from the start), oldest first: a pass over thousands of them holds
    /// one page in memory at a time.
    pub async fn pending_requests_page(
        &self,
        after: Option<&(i64, String)>,
        limit: i64,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        let (at, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
        let sql = format!(
            "SELECT {COLUMNS} FROM review_requests
             WHERE state = 'pending' AND (created_at > $1 OR (created_at = $1 AND id > $2))
             ORDER BY created_at, id LIMIT $3"
        );
        sqlx::query(&sql)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request)
            .collect()
    }

    /// Reviewed requests decided since `since` (ms) with fewer than `admins` review DMs sent:
    /// decided before their fan-out finished (its sender stopped mid-way and another replica
    /// served the click), so some admins still have no DM about them.
    pub async fn decided_short_of_dms(
        &self,
        since: i64,
        admins: i64,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM review_requests r
             WHERE state IN ('accepted', 'rejected') AND auto_accepted = 0 AND decided_by_rule IS NULL
               AND decided_at >= $1
               AND (SELECT COUNT(*) FROM notification_posts n
                    WHERE n.request_id = r.id AND n.kind = 'dm' AND n.post_id IS NOT NULL) < $2
             ORDER BY created_at, id"
        );
        sqlx::query(&sql)
            .bind(since)
            .bind(admins)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request)
            .collect()
    }

    /// The pending requests, oldest first, `size` at a time (see [`PendingPages::next`]).
    pub fn pending_pages(&self, size: i64) -> PendingPages {
        PendingPages {
            store: self.clone(),
            size,
            after: None,
        }
    }

    /// Moves a pending request to `to` in one conditional update; exactly one caller wins.
    pub async fn decide(
        &self,
        id: &str,
        to: RequestState,
        team_id: Option<&str>,
        by: &Decider,
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
        .bind(by.as_str())
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

    /// Records a channel that went straight to `team_id` under an auto-accept policy: an
    /// accepted request decided by sharebot's rule, so it can be relocated and is never
    /// reviewed. When
    /// the channel has a request already (the arrival path and a reconcile pass found it at
    /// once), nothing is written: returns the channel's request and whether this call made it.
    pub async fn record_auto_accepted(
        &self,
        new: &NewRequest,
        team_id: &str,
    ) -> Result<(ReviewRequest, bool), StoreError> {
        let now = now_ms();
        let id = new_id();
        let done = sqlx::query(
            "INSERT INTO review_requests (id, remote_id, channel_id, channel_name, channel_display_name, channel_type,
                 channel_purpose, state, team_id, decided_by, decided_at, created_at, updated_at, org_name,
                 channel_header, suggested_team_id, auto_accepted)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'accepted', $8, $9, $10, $10, $10, $11, $12, $8, 1)
             ON CONFLICT (channel_id) WHERE state <> 'withdrawn' DO NOTHING",
        )
        .bind(&id)
        .bind(&new.remote_id)
        .bind(&new.channel_id)
        .bind(&new.channel_name)
        .bind(&new.channel_display_name)
        .bind(&new.channel_type)
        .bind(&new.channel_purpose)
        .bind(team_id)
        .bind(Decider::Sharebot.as_str())
        .bind(now)
        .bind(&new.org_name)
        .bind(&new.channel_header)
        .execute(&self.pool)
        .await?;
        let current = self
            .live_request_for_channel(&new.channel_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        Ok((current, done.rows_affected() == 1))
    }

    /// Claims the decision of a pending request for one caller: the verdict with its team,
    /// author and note, in one conditional update, while the work is applied. Of concurrent
    /// callers exactly one gets [`Decision::Made`].
    pub async fn begin_decision(
        &self,
        id: &str,
        claim: &Claim<'_>,
    ) -> Result<Decision, StoreError> {
        self.claim_decision(id, claim, None).await
    }

    /// Records a discovered channel with a routing rule's decision already claimed (sharebot
    /// deciding, `rule` saying which rule), in one insert: no pass ever sees it pending and
    /// undecided, so no admin is asked about it. When the channel has a request already,
    /// nothing is written: returns the channel's request and whether this call made it.
    pub async fn open_request_by_rule(
        &self,
        new: &NewRequest,
        claim: &Claim<'_>,
        rule: &str,
    ) -> Result<(ReviewRequest, bool), StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO review_requests (id, remote_id, channel_id, channel_name, channel_display_name, channel_type,
                 channel_purpose, state, created_at, updated_at, org_name, channel_header, suggested_team_id,
                 deciding, team_id, decided_by, decided_at, note, progress, decided_by_rule)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10, $11, $12, $13, $14, $8, $15, '', $16)
             ON CONFLICT (channel_id) WHERE state <> 'withdrawn' DO NOTHING",
        )
        .bind(new_id())
        .bind(&new.remote_id)
        .bind(&new.channel_id)
        .bind(&new.channel_name)
        .bind(&new.channel_display_name)
        .bind(&new.channel_type)
        .bind(&new.channel_purpose)
        .bind(now)
        .bind(&new.org_name)
        .bind(&new.channel_header)
        .bind(new.suggested_team_id.as_deref())
        .bind(claim.verdict.as_str())
        .bind(claim.team_id)
        .bind(claim.by.as_str())
        .bind(claim.note)
        .bind(rule)
        .execute(&self.pool)
        .await?;
        let current = self
            .live_request_for_channel(&new.channel_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        Ok((current, done.rows_affected() == 1))
    }

    /// [`Store::begin_decision`] by a routing rule (`rule` saying which), for a request that
    /// was pending before the rule was written (`rule add … --apply-pending`).
    pub async fn begin_decision_by_rule(
        &self,
        id: &str,
        claim: &Claim<'_>,
        rule: &str,
    ) -> Result<Decision, StoreError> {
        self.claim_decision(id, claim, Some(rule)).await
    }

    /// The one conditional update behind [`Store::begin_decision`] and
    /// [`Store::begin_decision_by_rule`] (`rule`: the rule that decides, if one does).
    async fn claim_decision(
        &self,
        id: &str,
        claim: &Claim<'_>,
        rule: Option<&str>,
    ) -> Result<Decision, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE review_requests SET deciding = $1, team_id = $2, decided_by = $3, decided_at = $4, note = $5,
                 progress = '', decided_by_rule = $6, updated_at = $4
             WHERE id = $7 AND state = 'pending' AND deciding IS NULL",
        )
        .bind(claim.verdict.as_str())
        .bind(claim.team_id)
        .bind(claim.by.as_str())
        .bind(now)
        .bind(claim.note)
        .bind(rule)
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

    /// Records that a step of the decision being applied is done.
    pub async fn add_progress(&self, id: &str, step: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE review_requests SET progress = progress || $1 || ',', updated_at = $2
             WHERE id = $3 AND deciding IS NOT NULL",
        )
        .bind(step)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The decision being applied is done: `pending` becomes what its verdict settles as
    /// (`accepted`, `rejected`).
    pub async fn finish_decision(&self, id: &str) -> Result<Option<ReviewRequest>, StoreError> {
        let Some(verdict) = self.request(id).await?.and_then(|r| r.deciding) else {
            return self.request(id).await;
        };
        sqlx::query(
            "UPDATE review_requests SET state = $1, deciding = NULL, updated_at = $2
             WHERE id = $3 AND state = 'pending' AND deciding = $4",
        )
        .bind(verdict.settles_as().as_str())
        .bind(now_ms())
        .bind(id)
        .bind(verdict.as_str())
        .execute(&self.pool)
        .await?;
        self.request(id).await
    }

    /// The decision being applied failed: the request is pending again, for anyone to retry.
    pub async fn abandon_decision(&self, id: &str) -> Result<Option<ReviewRequest>, StoreError> {
        sqlx::query(
            "UPDATE review_requests SET deciding = NULL, team_id = NULL, decided_by = NULL, decided_at = NULL,
                 note = NULL, progress = '', decided_by_rule = NULL, updated_at = $1
             WHERE id = $2 AND state = 'pending' AND deciding IS NOT NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.request(id).await
    }

    /// Requests whose decision was claimed but not finished (a restart in between).
    pub async fn decisions_in_progress(&self) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("state = 'pending' AND deciding IS NOT NULL", None)
            .await
    }

    /// The sender stopped sharing a pending request's channel (or it vanished) before anyone
    /// decided: true when this call withdrew it.
    pub async fn withdraw(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE review_requests SET state = 'withdrawn', decided_at = $1, updated_at = $1
             WHERE id = $2 AND state = 'pending' AND deciding IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a relocation of an accepted request from team `from` to `to` for admin `by`
    /// before any work starts, in one conditional update: false when it is no longer in
    /// `from` or another relocation is recorded.
    pub async fn begin_relocation(
        &self,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE review_requests SET relocating_to = $1, relocating_by = $2, updated_at = $3
             WHERE id = $4 AND state = 'accepted' AND team_id = $5 AND relocating_to IS NULL",
        )
        .bind(to)
        .bind(by)
        .bind(now_ms())
        .bind(id)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The recorded relocation is done: the request is in its new team (the first team and
    /// the decision kept), and the audit row `detail` written, in one transaction; false
    /// when no relocation was recorded (finished already).
    pub async fn finish_relocation(&self, id: &str, detail: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT relocating_by FROM review_requests WHERE id = $1 AND relocating_to IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((by,)) = row else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE review_requests SET accepted_team_id = COALESCE(accepted_team_id, team_id),
                 team_id = relocating_to, moved_by = relocating_by, moved_at = $1,
                 relocating_to = NULL, relocating_by = NULL, updated_at = $1
             WHERE id = $2 AND relocating_to IS NOT NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // An admin's move, from the relocate menu or the `relocate` command.
        let action = Verdict::Relocate.audit_action(How::Click);
        super::audit::audit_in(&mut tx, now, &by, action, id, detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The recorded relocation could not be done: nothing changes but the record.
    pub async fn abandon_relocation(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE review_requests SET relocating_to = NULL, relocating_by = NULL, updated_at = $1
             WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Relocations recorded but not finished nor rolled back (a restart in between).
    pub async fn relocations_in_progress(&self) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("state = 'accepted' AND relocating_to IS NOT NULL", None)
            .await
    }

    /// Does the step `step` of the decision being applied once: its audit row `(actor,
    /// action, detail)` is written together with the step's record, in one transaction;
    /// false when the step was done already.
    pub async fn audit_step(
        &self,
        id: &str,
        step: &str,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE review_requests SET progress = progress || $1 || ',', updated_at = $2
             WHERE id = $3 AND deciding IS NOT NULL
               AND (',' || progress) NOT LIKE ('%,' || $1 || ',%')",
        )
        .bind(step)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::audit_in(&mut tx, now, actor, action, id, detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepted requests (to find where a channel from an organization was last placed).
    pub async fn accepted_requests(&self) -> Result<Vec<ReviewRequest>, StoreError> {
        self.select("state = 'accepted'", None).await
    }

    /// How many requests are waiting for a decision.
    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM review_requests WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }
}

/// A read of the pending requests page by page; from [`Store::pending_pages`].
pub struct PendingPages {
    store: Store,
    size: i64,
    /// `(created_at, id)` of the last request read.
    after: Option<(i64, String)>,
}

impl PendingPages {
    /// The next page; `None` once every pending request was read.
    pub async fn next(&mut self) -> Result<Option<Vec<ReviewRequest>>, StoreError> {
        let page = self
            .store
            .pending_requests_page(self.after.as_ref(), self.size)
            .await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.after = Some((last.created_at, last.id.clone()));
        Ok(Some(page))
    }
}
