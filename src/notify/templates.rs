//! Message templates (`templates/` at the top of the repository), compiled into the binary
//! and optionally overridden from a folder, rendered with minijinja.

use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::json;

/// Every template, with its built-in text and a context that exercises it at start-up.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "review_request.md.j2",
        include_str!("../../templates/review_request.md.j2"),
    ),
    (
        "review_outcome.md.j2",
        include_str!("../../templates/review_outcome.md.j2"),
    ),
    (
        "reject_notice.md.j2",
        include_str!("../../templates/reject_notice.md.j2"),
    ),
    (
        "reminder.md.j2",
        include_str!("../../templates/reminder.md.j2"),
    ),
    (
        "auto_accept_notice.md.j2",
        include_str!("../../templates/auto_accept_notice.md.j2"),
    ),
    (
        "decision_failed.md.j2",
        include_str!("../../templates/decision_failed.md.j2"),
    ),
    (
        "callback_reply.md.j2",
        include_str!("../../templates/callback_reply.md.j2"),
    ),
    (
        "command_help.md.j2",
        include_str!("../../templates/command_help.md.j2"),
    ),
    (
        "command_connections.md.j2",
        include_str!("../../templates/command_connections.md.j2"),
    ),
    (
        "command_invite.md.j2",
        include_str!("../../templates/command_invite.md.j2"),
    ),
    (
        "command_shared.md.j2",
        include_str!("../../templates/command_shared.md.j2"),
    ),
    (
        "command_audit.md.j2",
        include_str!("../../templates/command_audit.md.j2"),
    ),
    (
        "command_rules.md.j2",
        include_str!("../../templates/command_rules.md.j2"),
    ),
    (
        "command_reply.md.j2",
        include_str!("../../templates/command_reply.md.j2"),
    ),
    (
        "share_declined.md.j2",
        include_str!("../../templates/share_declined.md.j2"),
    ),
    (
        "connection_watch.md.j2",
        include_str!("../../templates/connection_watch.md.j2"),
    ),
    (
        "share_request.md.j2",
        include_str!("../../templates/share_request.md.j2"),
    ),
];

/// Every answer `command_reply.md.j2` has a branch for.
pub const COMMAND_REPLIES: &[&str] = &[
    "error",
    "unknown_command",
    "not_admin",
    "wrong_place",
    "interrupted",
    "failed",
    "connected",
    "exists",
    "reinvited",
    "not_pending",
    "accept_invite",
    "invite_accepted",
    "policy_set",
    "disconnect_confirm",
    "disconnected",
    "disconnect_kept",
    "shared",
    "share_waiting",
    "already_shared",
    "unshared",
    "not_shared",
    "cannot_share",
    "pending_none",
    "pending",
    "share_requests_pending",
    "share_request_open",
    "withdrawn",
    "withdraw_decided",
    "moving",
    "move_pending",
    "move_not_received",
    "move_same",
    "move_busy",
    "whois",
    "info",
    "info_declined",
];

/// The fields `command_reply.md.j2` may use, all empty: commands fill in what they need.
pub fn command_reply_defaults() -> serde_json::Value {
    json!({
        "reply": "", "mention": "@sharebot ", "admin_channel": "", "command": "", "message": "",
        "usage": "", "org": "", "name": "", "receives": "", "waiting": "", "by": "", "at": "",
        "channel": "", "team": "", "count": 0, "outgoing": "", "incoming": "", "user": "",
        "full_name": "", "bot_user": false, "remote": false, "shared": false, "state": "",
        "requests": [],
    })
}

/// A template that could not be read, compiled or rendered; names the file.
#[derive(Debug, thiserror::Error)]
#[error("template {file}: {message}")]
pub struct TemplateError {
    pub file: String,
    pub message: String,
}

/// The compiled templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, with any file of the same name in `dir` used instead; every
    /// template is rendered once with sample data so a broken override stops start-up.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| TemplateError {
                    file: "(syntax)".into(),
                    message: e.to_string(),
                })?,
        );
        env.add_filter("plain", plain);
        env.add_filter("plural", plural);
        for (name, built_in) in BUILT_IN {
            let (file, source) = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| TemplateError {
                        file: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                    (path, text)
                }
                None => (PathBuf::from("templates").join(name), built_in.to_string()),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| TemplateError {
                    file: file.display().to_string(),
                    message: e.to_string(),
                })?;
            let templates = Templates { env };
            for sample in samples(name) {
                templates.render(name, &sample).map_err(|e| TemplateError {
                    file: file.display().to_string(),
                    message: e.message,
                })?;
            }
            env = templates.env;
        }
        Ok(Templates { env })
    }

    /// Renders `name` with `context`; surrounding blank space is trimmed.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, TemplateError> {
        let failed = |e: minijinja::Error| TemplateError {
            file: name.to_string(),
            message: format!("{e:#}"),
        };
        let template = self.env.get_template(name).map_err(failed)?;
        let text = template
            .render(Value::from(minijinja::value::Serde(context)))
            .map_err(failed)?;
        Ok(text.trim().to_string())
    }
}

/// The `plain` filter: text from outside (another organization's channel names, purposes,
/// notes) shown literally, with Markdown that could disguise a link or a mention escaped.
fn plain(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '(' | ')' | '#' | '>' | '|' | '<' | '!'
            | '@' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The `plural` filter: a count with its noun, `{{ n | plural("channel") }}` → `1 channel`,
/// `2 channels`; an irregular plural is the second argument (`plural("person", "people")`).
/// A count given as text (`"3"`) is read as a number; other text is kept with the plural.
fn plural(count: Value, singular: String, plural: Option<String>) -> String {
    let n = count
        .as_i64()
        .or_else(|| count.as_str().and_then(|s| s.trim().parse::<i64>().ok()));
    let noun = match n {
        Some(1) => singular,
        _ => plural.unwrap_or_else(|| format!("{singular}s")),
    };
    format!("{count} {noun}")
}

/// Sample contexts that take every branch of a template, for the start-up check.
fn samples(name: &str) -> Vec<serde_json::Value> {
    let request = json!({
        "org": "Org B", "channel": "Launch plan", "channel_type": "public channel",
        "purpose": "Coordinating the launch", "header": "Runbook: https://example.com",
        "ago": "3 min ago", "arrived_at": "2026-01-01 10:00 UTC", "pending": 3,
        "suggested_team": "Engineering",
    });
    let mut out = Vec::new();
    match name {
        "review_request.md.j2" => {
            out.push(request.clone());
            let mut bare = request;
            bare["purpose"] = json!("");
            bare["header"] = json!("");
            bare["suggested_team"] = json!("");
            out.push(bare);
        }
        "review_outcome.md.j2" => {
            for outcome in [
                "accepting",
                "rejecting",
                "accepted",
                "rejected",
                "expired",
                "withdrawn",
                "auto_accepted",
            ] {
                for note in ["", "not for us"] {
                    let mut c = request.clone();
                    c["outcome"] = json!(outcome);
                    c["team"] = json!("Engineering");
                    c["by"] = json!("alice");
                    c["at"] = json!("2026-01-01 10:42 UTC");
                    c["note"] = json!(note);
                    c["told"] = json!(note.is_empty());
                    c["first_team"] = json!("Marketing");
                    c["moved_by"] = json!(if note.is_empty() { "" } else { "bob" });
                    c["moved_at"] = json!("11:05 UTC");
                    c["rule"] = json!("");
                    c["always"] = json!(if note.is_empty() {
                        ""
                    } else {
                        "rule 3 of org-b: `budget`"
                    });
                    out.push(c.clone());
                    c["rule"] = json!("rule 2 of org-b: `eng-*`");
                    out.push(c);
                }
            }
        }
        "reject_notice.md.j2" => {
            for (site_name, reason) in [("Org B", "we already have one"), ("", "")] {
                let mut c = request.clone();
                c["site_name"] = json!(site_name);
                c["reason"] = json!(reason);
                out.push(c);
            }
        }
        "reminder.md.j2" => out.push(request),
        "share_declined.md.j2" => out.push(json!({"org": "Org B", "channel": "launch-plan"})),
        "connection_watch.md.j2" => {
            for kind in ["offline", "online", "invite_expiring", "invite_expired"] {
                for (since, counts) in [("2026-01-01 10:00 UTC", json!(2)), ("", json!(null))] {
                    out.push(json!({"kind": kind, "org": "Org B", "name": "org-b",
                        "since": since, "away": "12 min", "expires_at": "2026-01-03 10:00 UTC",
                        "outgoing": counts, "incoming": counts, "mention": "@sharebot "}));
                }
            }
        }
        "auto_accept_notice.md.j2" => {
            let mut c = request;
            c["team"] = json!("Marketing");
            out.push(c);
        }
        "decision_failed.md.j2" => {
            for action in ["accept", "reject", "relocate", "join"] {
                let mut c = request.clone();
                c["action"] = json!(action);
                c["team"] = json!("Engineering");
                c["reason"] = json!("Mattermost answered 403");
                out.push(c);
            }
        }
        "callback_reply.md.j2" => {
            for reply in [
                "accepting",
                "rejecting",
                "reject_intro",
                "relocating",
                "chosen",
                "already",
                "in_progress",
                "not_admin",
                "invalid",
                "unknown_team",
                "same_team",
                "not_accepted",
                "failed",
            ] {
                let mut c = request.clone();
                c["reply"] = json!(reply);
                c["team"] = json!("Engineering");
                c["state"] = json!("accepted");
                c["by"] = json!("alice");
                c["at"] = json!("2026-01-01 10:42 UTC");
                c["reason"] = json!("database is not answering");
                c["approvers"] = json!("system admins");
                out.push(c);
            }
        }
        "command_help.md.j2" => {
            let commands = json!([
                {"usage": "help [command]", "summary": "List the commands.", "open": true},
                {"usage": "connections", "summary": "List connections.", "open": false},
            ]);
            for mention in ["@sharebot ", ""] {
                out.push(
                    json!({"topic": null, "unknown": "", "commands": commands, "mention": mention}),
                );
                out.push(json!({"topic": null, "unknown": "frob", "commands": commands, "mention": mention}));
            }
            for open in [true, false] {
                out.push(json!({"topic": {"usage": "share ~channel with <connection>", "summary": "Share.",
                    "examples": ["share ~launch-plan with org-b"], "open": open},
                    "unknown": "", "commands": [], "mention": "@sharebot "}));
            }
        }
        "command_rules.md.j2" => {
            let base = json!({"org": "Org A", "name": "org-a", "mention": "@sharebot ",
                "fallback": "waits for review in **Shared Inbox**", "position": 2, "from": 1,
                "what": "`eng-*` → accept into **Engineering**", "apply_pending": false,
                "inbox": "", "left": 0, "count": 0, "channel": "eng-infra",
                "channel_type": "public", "rule": "", "rules": []});
            for reply in ["list", "added", "removed", "moved", "no_such_rule", "test"] {
                for full in [false, true] {
                    let mut c = base.clone();
                    c["reply"] = json!(reply);
                    if full {
                        c["rules"] = json!([{"position": 1, "what": "`eng-*` → review", "apply_pending": true}]);
                        c["apply_pending"] = json!(true);
                        c["inbox"] = json!("Shared Inbox");
                        c["left"] = json!(2);
                        c["count"] = json!(3);
                        c["rule"] = json!("rule 1 of org-a: `eng-*`");
                    }
                    out.push(c);
                }
            }
        }
        "command_connections.md.j2" => {
            out.push(json!({"rows": [], "mention": "@sharebot ", "leader": null}));
            out.push(
                json!({"rows": [{"org": "Org B", "name": "org-b", "status": "🟢 Connected",
                "last_seen": "1 min ago", "receives": "review → Shared Inbox", "rules": 2, "shared_out": "2",
                "shared_in": "5 (1 pending)"}], "mention": "", "leader": null}),
            );
            out.push(json!({"rows": [], "mention": "",
                "leader": {"replica": "host-1234", "since": "5 min ago"}}));
        }
        "command_invite.md.j2" => {
            for (reinvite, waiting) in [(false, ""), (true, "~launch-plan")] {
                for (part, invite, password) in
                    [("code", "c2FtcGxl", ""), ("password", "", "sample")]
                {
                    out.push(
                        json!({"part": part, "reinvite": reinvite, "org": "Org B", "name": "org-b",
                        "invite": invite, "password": password, "waiting": waiting,
                        "mention": "@sharebot "}),
                    );
                }
            }
        }
        "command_shared.md.j2" => {
            out.push(json!({"sections": []}));
            out.push(json!({"sections": [
                {"org": "Org B", "name": "org-b", "outgoing": [], "incoming": []},
                {"org": "Org C", "name": "org-c",
                 "outgoing": [{"name": "launch-plan", "team": "Engineering", "waiting": true},
                              {"name": "hiring", "team": "Marketing", "waiting": false}],
                 "declined": ["budget"],
                 "incoming": [{"channel": "Roadmap", "state": "accepted", "team": "Engineering"},
                              {"channel": "Ops", "state": "pending", "team": ""}]},
            ]}));
        }
        "command_audit.md.j2" => {
            for filtered in [false, true] {
                out.push(
                    json!({"entries": [], "total": 0, "first": 1, "last": 1, "page": 1,
                    "next": "", "filtered": filtered}),
                );
            }
            for next in ["", "@sharebot audit 10 --page 3"] {
                out.push(
                    json!({"entries": [{"at": "2026-01-01 10:00 UTC", "who": "alice",
                    "action": "connection.created", "about": "Org B"}], "total": 25, "first": 11,
                    "last": 20, "page": 2, "next": next, "filtered": true}),
                );
            }
        }
        "share_request.md.j2" => {
            for part in ["request", "confirmation", "outcome"] {
                for (state, applied, reason) in [
                    ("pending", "", ""),
                    ("approved", "", ""),
                    ("approved", "shared", ""),
                    ("approved", "waiting", ""),
                    ("approved", "refused", ""),
                    ("denied", "", ""),
                    ("denied", "", "not with them"),
                    ("withdrawn", "", ""),
                ] {
                    for (note, flag) in [("", false), ("for the launch", true)] {
                        out.push(json!({"part": part, "state": state, "applied": applied,
                            "reason": reason, "refusal": "not allowed", "asker": "alice", "channel": "launch-plan",
                            "display": "Launch plan", "channel_type": "public channel",
                            "members": 3, "guests": flag, "remote": flag, "purpose": note,
                            "shared_with": note, "note": note, "number": 3, "org": "Org A",
                            "by": "bob", "at": "2026-01-01 10:00 UTC", "mention": "@sharebot "}));
                    }
                }
            }
        }
        "command_reply.md.j2" => {
            for reply in COMMAND_REPLIES {
                for (flag, text) in [(false, ""), (true, "x")] {
                    let mut c = command_reply_defaults();
                    for key in [
                        "usage",
                        "org",
                        "waiting",
                        "full_name",
                        "state",
                        "outgoing",
                        "team",
                        "name",
                    ] {
                        c[key] = json!(text);
                    }
                    for key in ["bot_user", "remote", "shared"] {
                        c[key] = json!(flag);
                    }
                    c["reply"] = json!(reply);
                    out.push(c);
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_load_and_render() {
        let t = Templates::load(None).unwrap();
        let text = t
            .render(
                "reminder.md.j2",
                &json!({"org": "Org *B*", "channel": "x", "arrived_at": "2026-01-01 10:00 UTC"}),
            )
            .unwrap();
        assert!(text.contains("Org \\*B\\*"), "{text}");
        // A post stays on screen for days: it says when, never "just now" or "ago".
        assert!(text.contains("shared at 2026-01-01 10:00 UTC"), "{text}");
    }

    #[test]
    fn a_broken_override_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("reminder.md.j2"), "{{ nope.missing }}").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(err.file.ends_with("reminder.md.j2"), "{err}");
        std::fs::write(dir.path().join("reminder.md.j2"), "{% if %}").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("reminder.md.j2"), "{err}");
    }

    #[test]
    fn an_override_replaces_the_built_in_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reminder.md.j2"),
            "Still waiting on {{ channel }}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let text = t
            .render("reminder.md.j2", &json!({"channel": "Launch"}))
            .unwrap();
        assert_eq!(text, "Still waiting on Launch");
    }

    #[test]
    fn counts_say_their_noun_in_the_right_number() {
        let t = Templates::load(None).unwrap();
        let mut c = command_reply_defaults();
        c["reply"] = json!("pending");
        for (count, expected) in [(1, "1 channel waiting"), (2, "2 channels waiting")] {
            c["count"] = json!(count);
            let text = t.render("command_reply.md.j2", &c).unwrap();
            assert!(text.starts_with(expected), "{text}");
        }
        c["reply"] = json!("disconnect_confirm");
        c["outgoing"] = json!("1");
        c["incoming"] = json!("0");
        let text = t.render("command_reply.md.j2", &c).unwrap();
        assert!(
            text.contains("1 channel we share with them and 0 channels from them"),
            "{text}"
        );
        assert_eq!(
            plural(Value::from(3), "person".into(), Some("people".into())),
            "3 people"
        );
        assert_eq!(plural(Value::from("1"), "day".into(), None), "1 day");
    }

    #[test]
    fn plain_escapes_markdown_and_mentions() {
        assert_eq!(
            plain("[x](http://e) @all".into()),
            "\\[x\\]\\(http://e\\) \\@all"
        );
        assert_eq!(plain("a\nb".into()), "a b");
    }
}
