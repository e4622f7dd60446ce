//! How each secure connection treats incoming shared channels: held for review, or auto-accepted.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// A connection's policy for channels it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Channels wait in the inbox team until an admin accepts or rejects them.
    Review,
    /// Channels go straight to the destination team; admins get an FYI.
    AutoAccept,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Review => "review",
            Policy::AutoAccept => "auto_accept",
        }
    }

    fn parse(s: &str) -> Result<Policy, StoreError> {
        match s {
            "review" => Ok(Policy::Review),
            "auto_accept" => Ok(Policy::AutoAccept),
            other => Err(StoreError::Corrupt {
                column: "connection_policies.policy",
                value: other.to_string(),
            }),
        }
    }
}

/// The stored policy of one connection (Mattermost remote cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPolicy {
    pub remote_id: String,
    pub policy: Policy,
    pub destination_team_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

type Row = (String, String, Option<String>, String, i64, i64);

fn policy(
    (remote_id, policy, destination_team_id, created_by, created_at, updated_at): Row,
) -> Result<ConnectionPolicy, StoreError> {
    Ok(ConnectionPolicy {
        remote_id,
        policy: Policy::parse(&policy)?,
        destination_team_id,
        created_by,
        created_at,
        updated_at,
    })
}

const COLUMNS: &str = "remote_id, policy, destination_team_id, created_by, created_at, updated_at";

impl Store {
    /// Sets a connection's policy (creating or replacing it).
    pub async fn set_policy(
        &self,
        remote_id: &str,
        policy: Policy,
        destination_team_id: Option<&str>,
        by: &str,
    ) -> Result<ConnectionPolicy, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO connection_policies (remote_id, policy, destination_team_id, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (remote_id) DO UPDATE SET policy = excluded.policy,
                 destination_team_id = excluded.destination_team_id, updated_at = excluded.updated_at",
        )
        .bind(remote_id)
        .bind(policy.as_str())
        .bind(destination_team_id)
        .bind(by)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.policy(remote_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))
    }

    /// A connection's policy, if one was set.
    pub async fn policy(&self, remote_id: &str) -> Result<Option<ConnectionPolicy>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM connection_policies WHERE remote_id = $1"
        ))
        .bind(remote_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(policy).transpose()
    }

    /// Every stored policy, by remote id.
    pub async fn policies(&self) -> Result<Vec<ConnectionPolicy>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM connection_policies ORDER BY remote_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(policy).collect()
    }

    /// Forgets a connection's policy; true when there was one.
    pub async fn delete_policy(&self, remote_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM connection_policies WHERE remote_id = $1")
            .bind(remote_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
