//! `audit`: the audit searched by connection, action, who and age, newest first, page by
//! page; the same search answers `GET /audit` as JSON Lines.

use serde_json::{json, Value};

use crate::mattermost::models::RemoteClusterFilter;
use crate::review::{timestamp, BOT_ACTOR};
use crate::store::{AuditConnection, AuditEntry, AuditQuery};

use super::lookup::find_connection;
use super::parse::{audit_query, AuditFilter};
use super::requests::about;
use super::{Asked, CommandError, Commands};

/// `7d`, `12h`, `30m`: an age in seconds as `--since` takes it.
fn age_text(secs: u64) -> String {
    match secs {
        s if s % 604_800 == 0 => format!("{}w", s / 604_800),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}

/// The command that shows `page` of the same search.
fn command_for(count: usize, filter: &AuditFilter, page: usize) -> String {
    let mut out = format!("audit {count}");
    if let Some(c) = &filter.connection {
        out.push_str(&format!(" --connection {c}"));
    }
    if let Some(a) = filter.action {
        out.push_str(&format!(" --action {a}"));
    }
    if let Some(u) = &filter.by {
        out.push_str(&format!(" --by @{u}"));
    }
    if let Some(s) = filter.since_secs {
        out.push_str(&format!(" --since {}", age_text(s)));
    }
    out.push_str(&format!(" --page {page}"));
    out
}

impl Commands {
    /// `audit [count] [--connection …] [--action …] [--by @…] [--since …] [--page N]`.
    pub(super) async fn audit(
        &self,
        asked: &Asked,
        count: usize,
        filter: &AuditFilter,
    ) -> Result<String, CommandError> {
        let (entries, total) = self.search_audit(count, filter).await?;
        let mut rows = Vec::new();
        for e in &entries {
            rows.push(json!({
                "at": timestamp(e.at),
                "who": self.ctx.username(&e.actor).await,
                "action": e.action,
                "about": about(&e.subject, &e.detail),
            }));
        }
        let first = (filter.page - 1) * count + 1;
        let last = first + entries.len().saturating_sub(1);
        let more = (last as i64) < total;
        let next = if more && !entries.is_empty() {
            format!(
                "{}{}",
                self.mention(asked),
                command_for(count, filter, filter.page + 1)
            )
        } else {
            String::new()
        };
        Ok(self.ctx.templates.render(
            "command_audit.md.j2",
            &json!({"entries": rows, "total": total, "first": first, "last": last,
                    "page": filter.page, "next": next,
                    "filtered": *filter != AuditFilter { page: filter.page, ..AuditFilter::default() }}),
        )?)
    }

    /// `GET /audit`: the query string's search, newest first, one JSON object per entry.
    pub async fn audit_lines(
        &self,
        pairs: &[(String, String)],
    ) -> Result<(Vec<Value>, i64), CommandError> {
        let count = pairs
            .iter()
            .find(|(k, _)| k == "count")
            .map(|(_, v)| v.as_str());
        let rest: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "count")
            .cloned()
            .collect();
        let (count, filter) = audit_query(count, &rest)?;
        let (entries, total) = self.search_audit(count, &filter).await?;
        let mut lines = Vec::new();
        for AuditEntry {
            id,
            at,
            actor,
            action,
            subject,
            detail,
        } in entries
        {
            let by = self.ctx.username(&actor).await;
            let time = humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(at.max(0) as u64),
            )
            .to_string();
            lines.push(
                json!({"id": id, "at": at, "time": time, "actor": actor, "by": by,
                              "action": action, "subject": subject, "detail": detail}),
            );
        }
        Ok((lines, total))
    }

    /// Resolves the filter's names (a connection, deleted ones included; a user) and runs
    /// the search.
    async fn search_audit(
        &self,
        count: usize,
        filter: &AuditFilter,
    ) -> Result<(Vec<AuditEntry>, i64), CommandError> {
        let mut query = AuditQuery {
            action: filter.action.map(str::to_string),
            limit: count as i64,
            offset: ((filter.page.max(1) - 1) * count) as i64,
            ..AuditQuery::default()
        };
        if let Some(name) = &filter.connection {
            let all = self
                .ctx
                .client
                .list_remote_clusters(&RemoteClusterFilter {
                    include_deleted: true,
                    ..RemoteClusterFilter::default()
                })
                .await?;
            let rc = find_connection(&all, name).ok_or_else(|| {
                CommandError::NotFound(format!("There is no connection named \"{name}\"."))
            })?;
            query.connection = Some(AuditConnection {
                remote_id: rc.remote_id.clone(),
                org: rc.display_name.clone(),
            });
        }
        if let Some(user) = &filter.by {
            let bot = &self.ctx.places.bot;
            query.actors = if *user == bot.username.to_lowercase() || user == BOT_ACTOR {
                vec![bot.id.clone(), BOT_ACTOR.to_string()]
            } else {
                match self.ctx.client.user_by_username(user).await {
                    Ok(u) => vec![u.id],
                    Err(e) if e.status() == Some(404) => {
                        return Err(CommandError::NotFound(format!("There is no user @{user}.")))
                    }
                    Err(e) => return Err(e.into()),
                }
            };
        }
        if let Some(secs) = filter.since_secs {
            let ms = i64::try_from(secs).unwrap_or(i64::MAX / 1000) * 1000;
            query.since = Some(crate::ids::now_ms() - ms);
        }
        Ok(self.ctx.store.audit_search(&query).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_repeats_the_search() {
        let filter = AuditFilter {
            connection: Some("org-b".into()),
            action: Some("accepted"),
            by: Some("alice".into()),
            since_secs: Some(7 * 86_400),
            page: 1,
        };
        assert_eq!(
            command_for(20, &filter, 2),
            "audit 20 --connection org-b --action accepted --by @alice --since 1w --page 2"
        );
        assert_eq!(age_text(12 * 3600), "12h");
        assert_eq!(age_text(30 * 60), "30m");
        assert_eq!(age_text(3 * 86_400), "3d");
    }
}
