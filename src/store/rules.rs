//! Routing rules per connection: an ordered list (positions from 1), each change written
//! together with its audit row in one transaction.

use super::{Store, StoreError};
use crate::ids::{new_id, now_ms};

/// The audit log's action for every change to a rule.
pub const RULE_AUDIT: &str = "rule";

/// What a rule does with a channel it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Accepted into the team (`team_id`), with the same membership-safe move as a click.
    Accept { team_id: String },
    /// Held for review; the DM's menu starts on `suggest` when given.
    Review { suggest: Option<String> },
    /// Declined, the other organization told `reason` when given.
    Reject { reason: Option<String> },
}

impl RuleAction {
    /// The stored verb.
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleAction::Accept { .. } => "accept",
            RuleAction::Review { .. } => "review",
            RuleAction::Reject { .. } => "reject",
        }
    }

    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            RuleAction::Accept { team_id } => (Some(team_id), None),
            RuleAction::Review { suggest } => (suggest.as_deref(), None),
            RuleAction::Reject { reason } => (None, reason.as_deref()),
        }
    }

    fn parse(
        action: &str,
        team_id: Option<String>,
        reason: Option<String>,
    ) -> Result<RuleAction, StoreError> {
        Ok(match (action, team_id) {
            ("accept", Some(team_id)) => RuleAction::Accept { team_id },
            ("review", suggest) => RuleAction::Review { suggest },
            ("reject", _) => RuleAction::Reject { reason },
            (other, _) => {
                return Err(StoreError::Corrupt {
                    column: "routing_rules.action",
                    value: other.to_string(),
                })
            }
        })
    }
}

/// A rule as written, before it has a place in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub remote_id: String,
    /// A glob (`eng-*`) or `/regex/`, as the admin wrote it.
    pub pattern: String,
    /// `O` or `P`; `None`: either.
    pub channel_type: Option<String>,
    /// A glob or `/regex/` over the display name; `None`: any.
    pub display_pattern: Option<String>,
    pub action: RuleAction,
    /// The channels already pending from this connection are routed at the next pass.
    pub apply_pending: bool,
    pub created_by: String,
}

/// A stored rule with its place in its connection's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    pub id: String,
    /// 1 for the first rule.
    pub position: i64,
    pub rule: NewRule,
    pub created_at: i64,
}

const COLUMNS: &str = "id, remote_id, position, pattern, channel_type, display_pattern, action, \
     team_id, reason, apply_pending, created_by, created_at";

type Row = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    i64,
);

fn stored(
    (
        id,
        remote_id,
        position,
        pattern,
        channel_type,
        display_pattern,
        action,
        team_id,
        reason,
        apply_pending,
        created_by,
        created_at,
    ): Row,
) -> Result<StoredRule, StoreError> {
    Ok(StoredRule {
        id,
        position,
        rule: NewRule {
            remote_id,
            pattern,
            channel_type,
            display_pattern,
            action: RuleAction::parse(&action, team_id, reason)?,
            apply_pending: apply_pending != 0,
            created_by,
        },
        created_at,
    })
}

/// An audit row written with a change: who, and the detail (made once the rule's place is known).
pub struct RuleAudit<'a> {
    pub actor: &'a str,
    pub detail: &'a (dyn Fn(&StoredRule) -> String + Sync),
}

impl Store {
    /// A connection's rules, first first.
    pub async fn rules(&self, remote_id: &str) -> Result<Vec<StoredRule>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM routing_rules WHERE remote_id = $1 ORDER BY position"
        ))
        .bind(remote_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(stored).collect()
    }

    /// How many rules each connection has (connections without rules are left out).
    pub async fn rule_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT remote_id, COUNT(*) FROM routing_rules GROUP BY remote_id ORDER BY remote_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The connections with a rule written `--apply-pending` whose pending channels were not
    /// routed yet.
    pub async fn rules_to_apply_to_pending(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT remote_id FROM routing_rules WHERE apply_pending = 1 ORDER BY remote_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// The pending channels of a connection were routed by its rules: the mark is cleared.
    pub async fn rules_applied_to_pending(&self, remote_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE routing_rules SET apply_pending = 0 WHERE remote_id = $1")
            .bind(remote_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets every rule of a connection (it was deleted); how many there were.
    pub async fn delete_rules(&self, remote_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM routing_rules WHERE remote_id = $1")
            .bind(remote_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Appends `rule` to its connection's list, with its audit row; returns it in its place.
    pub async fn add_rule(
        &self,
        rule: &NewRule,
        audit: RuleAudit<'_>,
    ) -> Result<StoredRule, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(position) FROM routing_rules WHERE remote_id = $1")
                .bind(&rule.remote_id)
                .fetch_one(&mut *tx)
                .await?;
        let (team_id, reason) = rule.action.columns();
        let made = StoredRule {
            id: new_id(),
            position: last.unwrap_or(0) + 1,
            rule: rule.clone(),
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO routing_rules (id, remote_id, position, pattern, channel_type, display_pattern,
                 action, team_id, reason, apply_pending, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&made.id)
        .bind(&rule.remote_id)
        .bind(made.position)
        .bind(&rule.pattern)
        .bind(rule.channel_type.as_deref())
        .bind(rule.display_pattern.as_deref())
        .bind(rule.action.as_str())
        .bind(team_id)
        .bind(reason)
        .bind(i64::from(rule.apply_pending))
        .bind(&rule.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, &audit, &made, now).await?;
        tx.commit().await?;
        Ok(made)
    }

    /// Removes the rule at `position` of a connection's list (those after it move up), with
    /// its audit row; `None` when there is no such rule.
    pub async fn remove_rule(
        &self,
        remote_id: &str,
        position: i64,
        audit: RuleAudit<'_>,
    ) -> Result<Option<StoredRule>, StoreError> {
        self.reorder(remote_id, position, None, audit).await
    }

    /// Moves the rule at `from` to `to` (the others keep their order), with its audit row;
    /// `None` when either place is outside the list.
    pub async fn move_rule(
        &self,
        remote_id: &str,
        from: i64,
        to: i64,
        audit: RuleAudit<'_>,
    ) -> Result<Option<StoredRule>, StoreError> {
        self.reorder(remote_id, from, Some(to), audit).await
    }

    /// Takes the rule at `from` out of the list and puts it back at `to` (or nowhere), then
    /// numbers the list again, in one transaction.
    async fn reorder(
        &self,
        remote_id: &str,
        from: i64,
        to: Option<i64>,
        audit: RuleAudit<'_>,
    ) -> Result<Option<StoredRule>, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM routing_rules WHERE remote_id = $1 ORDER BY position"
        ))
        .bind(remote_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut list = rows
            .into_iter()
            .map(stored)
            .collect::<Result<Vec<_>, _>>()?;
        let len = list.len() as i64;
        let inside = |n: i64| (1..=len).contains(&n);
        if !inside(from) || to.is_some_and(|to| !inside(to)) {
            return Ok(None);
        }
        let mut taken = list.remove((from - 1) as usize);
        match to {
            Some(to) => list.insert((to - 1) as usize, taken.clone()),
            None => {
                sqlx::query("DELETE FROM routing_rules WHERE id = $1")
                    .bind(&taken.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // Out of the way first, so no two rules share a place while they are renumbered.
        sqlx::query("UPDATE routing_rules SET position = -position WHERE remote_id = $1")
            .bind(remote_id)
            .execute(&mut *tx)
            .await?;
        for (i, rule) in list.iter().enumerate() {
            sqlx::query("UPDATE routing_rules SET position = $1 WHERE id = $2")
                .bind(i as i64 + 1)
                .bind(&rule.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(to) = to {
            taken.position = to;
        }
        audit_in(&mut tx, &audit, &taken, now).await?;
        tx.commit().await?;
        Ok(Some(taken))
    }
}

async fn audit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    audit: &RuleAudit<'_>,
    rule: &StoredRule,
    now: i64,
) -> Result<(), StoreError> {
    let detail = (audit.detail)(rule);
    super::audit::audit_in(
        tx,
        now,
        audit.actor,
        RULE_AUDIT,
        &rule.rule.remote_id,
        &detail,
    )
    .await
}
