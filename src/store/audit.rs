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

/// The audit row of a change, written in the change's own transaction `tx` at `at`, so the
/// two are kept or lost together.
pub(super) async fn audit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

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

/// The words `audit --action` takes. A word matches an action one of whose dotted parts is
/// that word (`accepted`: `request.accepted`, `connection.accepted`), or whose last part ends
/// in `_<word>` (`request.auto_accepted`, `connection.invite_expired`).
pub const AUDIT_ACTIONS: &[&str] = &[
    "accepted",
    "rejected",
    "expired",
    "withdrawn",
    "shared",
    "unshared",
    "rule",
    "policy",
    "requested",
    "approved",
    "denied",
];

/// A connection as the audit may name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConnection {
    pub remote_id: String,
    /// The display name entries' details carry as `org`.
    pub org: String,
}

/// A search of the audit; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries about this connection: with its id as the subject, about a request that came
    /// from it, or whose details name it (`"org"` or `"remote_id"`).
    pub connection: Option<AuditConnection>,
    /// One of [`AUDIT_ACTIONS`].
    pub action: Option<String>,
    /// Entries by any of these actors (user ids, or `sharebot`); empty: by anyone.
    pub actors: Vec<String>,
    /// Entries at or after this time (ms).
    pub since: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// `text` inside a LIKE pattern, literally (with `ESCAPE '\'`).
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl AuditQuery {
    /// The WHERE clause and its values, numbered from `$1`.
    fn condition(&self) -> (String, Vec<SqlValue>) {
        let mut parts: Vec<String> = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        let param = |values: &mut Vec<SqlValue>, v: SqlValue| {
            values.push(v);
            format!("${}", values.len())
        };
        if let Some(c) = &self.connection {
            let id = param(&mut values, SqlValue::Text(c.remote_id.clone()));
            let json_org = serde_json::Value::String(c.org.clone()).to_string();
            let org = param(
                &mut values,
                SqlValue::Text(format!("%\"org\":{}%", like_literal(&json_org))),
            );
            let json_id = serde_json::Value::String(c.remote_id.clone()).to_string();
            let rid = param(
                &mut values,
                SqlValue::Text(format!("%\"remote_id\":{}%", like_literal(&json_id))),
            );
            parts.push(format!(
                "(subject = {id} OR subject IN (SELECT id FROM review_requests WHERE remote_id = {id})
                  OR detail LIKE {org} ESCAPE '\\' OR detail LIKE {rid} ESCAPE '\\')"
            ));
        }
        if let Some(word) = &self.action {
            let word = like_literal(word);
            let exact = param(&mut values, SqlValue::Text(word.clone()));
            let first = param(&mut values, SqlValue::Text(format!("{word}.%")));
            let last = param(&mut values, SqlValue::Text(format!("%.{word}")));
            let middle = param(&mut values, SqlValue::Text(format!("%.{word}.%")));
            let suffix = param(&mut values, SqlValue::Text(format!("%.%\\_{word}")));
            parts.push(format!(
                "(action = {exact} OR action LIKE {first} ESCAPE '\\' OR action LIKE {last} ESCAPE '\\'
                  OR action LIKE {middle} ESCAPE '\\' OR action LIKE {suffix} ESCAPE '\\')"
            ));
        }
        if !self.actors.is_empty() {
            let list: Vec<String> = self
                .actors
                .iter()
                .map(|a| param(&mut values, SqlValue::Text(a.clone())))
                .collect();
            parts.push(format!("actor IN ({})", list.join(", ")));
        }
        if let Some(since) = self.since {
            let at = param(&mut values, SqlValue::Int(since));
            parts.push(format!("at >= {at}"));
        }
        let clause = if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        };
        (clause, values)
    }
}

/// A value bound to a search's SQL.
#[derive(Debug, Clone)]
enum SqlValue {
    Text(String),
    Int(i64),
}

type AnyQueryAs<'q, T> = sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments<'q>>;

fn bind_all<'q, T>(mut query: AnyQueryAs<'q, T>, values: &[SqlValue]) -> AnyQueryAs<'q, T> {
    for v in values {
        query = match v {
            SqlValue::Text(t) => query.bind(t.clone()),
            SqlValue::Int(i) => query.bind(*i),
        };
    }
    query
}

impl Store {
    /// The entries `query` selects, newest first, `limit` from `offset`, and how many it
    /// selects in all.
    pub async fn audit_search(
        &self,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditEntry>, i64), StoreError> {
        let (clause, values) = query.condition();
        let n = values.len();
        let select = format!(
            "SELECT id, at, actor, action, subject, detail FROM audit_log{clause}
             ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows: Vec<Row> = bind_all(sqlx::query_as(&select), &values)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM audit_log{clause}");
        let (total,): (i64,) = bind_all(sqlx::query_as(&count), &values)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows.into_iter().map(entry).collect(), total))
    }
}
