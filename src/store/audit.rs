//! The audit log: who did what to which connection, channel or request, and when.

use super::{Store, StoreError};
use crate::ids::now_ms;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// User id of the admin, or `sharebot` for the bot's own actions.
    pub actor: String,
    /// What happened, e.g. `request.accepted`.
    pub action: String,
    /// What it happened to (a request, remote or channel id).
    pub subject: String,
    /// Free-form details (JSON or text); never a secret.
    pub detail: String,
}

type Row = (i64, i64, String, String, String, String);

fn entry((id, at, actor, action, subject, detail): Row) -> AuditEntry {
    AuditEntry {
        id,
        at,
        actor,
        action,
        subject,
        detail,
    }
}

impl Store {
    /// Appends an entry and returns its id.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest `limit` entries, newest first.
    pub async fn audit_recent(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// Every entry about `subject`, oldest first.
    pub async fn audit_for(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, actor, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY id",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// Every entry of `action` whose subject starts with `prefix`, oldest first.
    pub async fn audit_of(
        &self,
        action: &str,
        prefix: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, actor, action, subject, detail FROM audit_log
             WHERE action = $1 AND subject LIKE $2 || '%' ORDER BY id",
        )
        .bind(action)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(entry).collect())
    }
}
