//! Routing rules: which rule of a connection's ordered list decides an arriving channel (first
//! match wins, the connection's policy as the fallback), checking a rule when it is written,
//! and carrying a rule's decision out through the same claim and apply path as a click.

use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde_json::json;

use crate::mattermost::models::{RemoteCluster, RemoteClusterPatch, Team};
use crate::notify::Target;
use crate::store::{
    Claim, ConnectionPolicy, Decider, Decision, How, NewRequest, NewRule, Policy, RuleAction,
    RuleAudit, StoredRule, Verdict,
};

use super::context::team_name;
use super::{Review, ReviewError};

/// The longest pattern a rule takes.
pub const PATTERN_MAX: usize = 200;
pub use super::reject::REASON_MAX;
/// How much memory one compiled pattern may take: a pattern is checked when written, so an
/// expensive one is refused then rather than slowing every arrival.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled name pattern: a glob (`*` any run of characters, `?` one; case-insensitive,
/// the whole name) or a regular expression written between slashes (searched as written).
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compiles `text`; the error is one line saying what is wrong.
    pub fn new(text: &str) -> Result<Pattern, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a rule needs a pattern, like `eng-*` or `/^eng-/`.".into());
        }
        if text.chars().count() > PATTERN_MAX {
            return Err(format!("a pattern is at most {PATTERN_MAX} characters."));
        }
        if text.contains(['`', '\n', '\r']) {
            return Err("a pattern cannot contain backticks or line breaks.".into());
        }
        let (source, glob) = match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(regex) if text.len() >= 2 => (regex.to_string(), false),
            _ => (glob_to_regex(text), true),
        };
        if source.is_empty() {
            return Err("`//` is an empty regular expression: write one between the slashes, like `/^eng-/`.".into());
        }
        RegexBuilder::new(&source)
            .case_insensitive(glob)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Pattern)
            .map_err(|e| {
                let why = e.to_string();
                let last = why
                    .lines()
                    .map(str::trim)
                    .rfind(|l| l.starts_with("error:"))
                    .map(|l| l.trim_start_matches("error:").trim().to_string())
                    .unwrap_or_else(|| "it does not compile".into());
                format!("`{text}` is not a valid regular expression: {last}.")
            })
    }

    pub fn matches(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// `eng-*` → `^eng\-.*$`.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// What is known of a channel a rule is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    /// `O` or `P`.
    pub channel_type: &'a str,
}

/// Whether `rule` matches the channel (a stored pattern that no longer compiles matches
/// nothing).
pub fn matches(rule: &NewRule, facts: Facts<'_>) -> bool {
    if rule
        .channel_type
        .as_deref()
        .is_some_and(|t| t != facts.channel_type)
    {
        return false;
    }
    let display_ok = match rule.display_pattern.as_deref() {
        None => true,
        Some(p) => Pattern::new(p).is_ok_and(|p| p.matches(facts.display_name)),
    };
    display_ok && Pattern::new(&rule.pattern).is_ok_and(|p| p.matches(facts.name))
}

/// The first rule of `rules` (in their order) that matches the channel.
pub fn first_match<'a>(rules: &'a [StoredRule], facts: Facts<'_>) -> Option<&'a StoredRule> {
    rules.iter().find(|r| matches(&r.rule, facts))
}

/// How a rule is named where it decided: "rule 2 of org-b: `eng-*`".
pub fn describe(rule: &StoredRule, connection: &str) -> String {
    format!(
        "rule {} of {connection}: `{}`",
        rule.position, rule.rule.pattern
    )
}

/// One line of the `rules` list: "`eng-*` (private, display name `Eng*`) → accept into **Engineering**".
pub fn summary(rule: &NewRule, teams: &[Team]) -> String {
    let mut conditions = Vec::new();
    match rule.channel_type.as_deref() {
        Some("P") => conditions.push("private".to_string()),
        Some(_) => conditions.push("public".to_string()),
        None => {}
    }
    if let Some(display) = &rule.display_pattern {
        conditions.push(format!("display name `{display}`"));
    }
    let when = if conditions.is_empty() {
        String::new()
    } else {
        format!(" ({})", conditions.join(", "))
    };
    format!(
        "`{}`{when} → {}",
        rule.pattern,
        action_phrase(&rule.action, teams)
    )
}

/// "accept into **Engineering**", "review (suggesting **Marketing**)", "reject (“not for us”)".
pub fn action_phrase(action: &RuleAction, teams: &[Team]) -> String {
    let team = |id: &str| {
        let name = team_name(teams, Some(id));
        if name.is_empty() {
            "(a team that no longer exists)".to_string()
        } else {
            format!("**{name}**")
        }
    };
    match action {
        RuleAction::Accept { team_id } => format!("accept into {}", team(team_id)),
        RuleAction::Review { suggest: None } => "review".into(),
        RuleAction::Review { suggest: Some(id) } => format!("review (suggesting {})", team(id)),
        RuleAction::Reject { reason: None } => "reject".into(),
        RuleAction::Reject { reason: Some(r) } => format!("reject (“{r}”)"),
    }
}

/// What happens to an arriving channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Decided at once: accepted into `team_id` or rejected with `reason`, by `rule`
    /// ("rule 2 of org-b: `eng-*`", or the connection's auto-accept policy).
    Decided {
        verdict: Verdict,
        team_id: Option<String>,
        reason: Option<String>,
        rule: String,
    },
    /// Held for review, the menu starting on `suggest` when a rule said so.
    Review {
        suggest: Option<String>,
        rule: Option<String>,
    },
}

/// Routes a channel that waits in the inbox: the first matching rule, else the connection's
/// policy. An accept into a team that is gone is held for review instead (the admins decide).
pub fn route(
    rules: &[StoredRule],
    policy: Option<&ConnectionPolicy>,
    connection: &str,
    facts: Facts<'_>,
    teams: &[Team],
) -> Routed {
    let live = |id: &str| teams.iter().any(|t| t.id == id);
    if let Some(rule) = first_match(rules, facts) {
        let named = describe(rule, connection);
        return match &rule.rule.action {
            RuleAction::Accept { team_id } if live(team_id) => Routed::Decided {
                verdict: Verdict::Accept,
                team_id: Some(team_id.clone()),
                reason: None,
                rule: named,
            },
            RuleAction::Accept { .. } => Routed::Review {
                suggest: None,
                rule: Some(named),
            },
            RuleAction::Review { suggest } => Routed::Review {
                suggest: suggest.clone().filter(|id| live(id)),
                rule: Some(named),
            },
            RuleAction::Reject { reason } => Routed::Decided {
                verdict: Verdict::Reject,
                team_id: None,
                reason: reason.clone(),
                rule: named,
            },
        };
    }
    match policy {
        Some(ConnectionPolicy {
            policy: Policy::AutoAccept,
            destination_team_id: Some(team_id),
            ..
        }) if live(team_id) => Routed::Decided {
            verdict: Verdict::Accept,
            team_id: Some(team_id.clone()),
            reason: None,
            rule: format!("the auto-accept policy of {connection}"),
        },
        _ => Routed::Review {
            suggest: None,
            rule: None,
        },
    }
}

/// A change to a connection's rules, for [`Review::change_rules`].
pub enum RuleChange {
    Add(NewRule),
    Remove(i64),
    Move(i64, i64),
}

impl Review {
    /// Takes in a channel waiting in the inbox by its connection's rules: a rule's accept or
    /// reject is claimed in the same insert that records the request, announced once in the
    /// admin channel and applied as a click is; otherwise the request is left for review
    /// (returned with the suggested team set, for the caller to open).
    pub(super) async fn take_in_by_rules(
        &self,
        remote: &RemoteCluster,
        policy: &ConnectionPolicy,
        mut new: NewRequest,
        teams: &[Team],
    ) -> Result<Option<NewRequest>, ReviewError> {
        let ctx = &*self.ctx;
        let rules = ctx.store.rules(&remote.remote_id).await?;
        let facts = Facts {
            name: &new.channel_name,
            display_name: &new.channel_display_name,
            channel_type: &new.channel_type,
        };
        match route(&rules, Some(policy), &remote.name, facts, teams) {
            Routed::Review { suggest, .. } => {
                if suggest.is_some() {
                    new.suggested_team_id = suggest;
                }
                Ok(Some(new))
            }
            Routed::Decided {
                verdict,
                team_id,
                reason,
                rule,
            } => {
                let claim = Claim {
                    verdict,
                    how: How::Rule,
                    by: Decider::Sharebot,
                    team_id: team_id.as_deref(),
                    note: reason.as_deref(),
                };
                let (request, created) =
                    ctx.store.open_request_by_rule(&new, &claim, &rule).await?;
                if created {
                    ctx.metrics.decision(verdict, How::Rule, Duration::ZERO);
                    tracing::info!(channel = %request.channel_display_name, org = %request.org_name, verdict = verdict.as_str(), rule, "decided by a rule");
                    self.announce_and_apply(&request, teams).await;
                }
                Ok(None)
            }
        }
    }

    /// Announces a rule's claimed decision in the admin channel (once: the post is recorded
    /// and updated in place when the decision is done), then applies it.
    pub(super) async fn announce_and_apply(
        &self,
        request: &crate::store::ReviewRequest,
        teams: &[Team],
    ) {
        let ctx = &*self.ctx;
        let channel_id = &ctx.places.admin_channel.id;
        let announced = async {
            let post = ctx.request_post(request, channel_id, None, teams).await?;
            ctx.poster
                .send_once(
                    &request.id,
                    Target::Channel { channel_id },
                    post,
                    &request.shown_key(),
                )
                .await?;
            Ok::<(), ReviewError>(())
        };
        if let Err(err) = announced.await {
            tracing::warn!(request = %request.id, "cannot announce a rule's decision (tried again while it is applied): {err}");
        }
        self.spawn_apply(request.id.clone());
    }

    /// Routes the pending requests of every connection with a rule written `--apply-pending`
    /// by its rules, as if each had just arrived (review rules leave them as they are).
    pub(super) async fn apply_rules_to_pending(
        &self,
        remotes: &[RemoteCluster],
        teams: &[Team],
    ) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        for remote_id in ctx.store.rules_to_apply_to_pending().await? {
            let connection = remotes
                .iter()
                .find(|r| r.remote_id == remote_id)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| remote_id.clone());
            let rules = ctx.store.rules(&remote_id).await?;
            for request in ctx.store.pending_requests().await? {
                if request.remote_id != remote_id || request.deciding.is_some() {
                    continue;
                }
                let facts = Facts {
                    name: &request.channel_name,
                    display_name: &request.channel_display_name,
                    channel_type: &request.channel_type,
                };
                // Only the rules: the policy decided already when the channel arrived.
                let Routed::Decided {
                    verdict,
                    team_id,
                    reason,
                    rule,
                } = route(&rules, None, &connection, facts, teams)
                else {
                    continue;
                };
                let claim = Claim {
                    verdict,
                    how: How::Rule,
                    by: Decider::Sharebot,
                    team_id: team_id.as_deref(),
                    note: reason.as_deref(),
                };
                if let Decision::Made(made) = ctx
                    .store
                    .begin_decision_by_rule(&request.id, &claim, &rule)
                    .await?
                {
                    let waited = crate::metrics::Metrics::since(request.created_at);
                    ctx.metrics.decision(verdict, How::Rule, waited);
                    tracing::info!(channel = %made.channel_display_name, rule, "a pending request decided by a rule added since");
                    self.announce_and_apply(&made, teams).await;
                }
            }
            ctx.store.rules_applied_to_pending(&remote_id).await?;
        }
        Ok(())
    }

    /// Adds, removes or moves a rule of `remote` for `actor`, audited with the change (action
    /// `rule`). A connection with rules gets the inbox as its default team first, so no
    /// channel shows outside it before a rule or an admin placed it. Returns the rule changed
    /// (in its new place), or `None` when the places named are outside the list.
    pub async fn change_rules(
        &self,
        remote: &RemoteCluster,
        change: RuleChange,
        actor: &str,
    ) -> Result<Option<StoredRule>, ReviewError> {
        let ctx = &*self.ctx;
        let teams = ctx.teams().await?;
        let (verb, from) = match &change {
            RuleChange::Add(_) => ("added", None),
            RuleChange::Remove(_) => ("removed", None),
            RuleChange::Move(from, _) => ("moved", Some(*from)),
        };
        let detail = |rule: &StoredRule| {
            json!({
                "org": remote.display_name, "name": remote.name, "change": verb,
                "rule": rule.position, "from": from,
                "pattern": rule.rule.pattern, "what": summary(&rule.rule, &teams),
                "apply_pending": rule.rule.apply_pending,
            })
            .to_string()
        };
        let audit = RuleAudit {
            actor,
            detail: &detail,
        };
        let store = &ctx.store;
        let changed = match change {
            RuleChange::Add(rule) => {
                self.inbox_as_default_team(remote).await?;
                Some(store.add_rule(&rule, audit).await?)
            }
            RuleChange::Remove(n) => store.remove_rule(&remote.remote_id, n, audit).await?,
            RuleChange::Move(from, to) => {
                store.move_rule(&remote.remote_id, from, to, audit).await?
            }
        };
        if changed.as_ref().is_some_and(|r| r.rule.apply_pending) {
            self.wake();
        }
        Ok(changed)
    }

    /// A connection with rules whose default team was changed elsewhere (the System
    /// Console) is pointed at the inbox again, so its channels keep arriving where the rules
    /// place them from.
    pub(super) async fn keep_rules_in_the_inbox(&self, remotes: &[RemoteCluster]) {
        let ctx = &*self.ctx;
        let inbox = &ctx.places.inbox_team.id;
        if remotes
            .iter()
            .all(|r| r.delete_at != 0 || &r.default_team_id == inbox)
        {
            return;
        }
        let counts = match ctx.store.rule_counts().await {
            Ok(counts) => counts,
            Err(err) => {
                tracing::warn!("cannot read the rule counts (tried at the next pass): {err}");
                return;
            }
        };
        for remote in remotes.iter().filter(|r| {
            r.delete_at == 0
                && &r.default_team_id != inbox
                && counts.iter().any(|(id, n)| *id == r.remote_id && *n > 0)
        }) {
            tracing::warn!(connection = %remote.name, "the connection has rules but its default team was changed: pointing it at the inbox again");
            if let Err(err) = self.inbox_as_default_team(remote).await {
                tracing::warn!(connection = %remote.name, "cannot point the connection at the inbox (tried at the next pass): {err}");
            }
        }
    }

    /// Points the connection's default team at the inbox when it is not there yet.
    async fn inbox_as_default_team(&self, remote: &RemoteCluster) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        let inbox = &ctx.places.inbox_team.id;
        if &remote.default_team_id == inbox {
            return Ok(());
        }
        ctx.client
            .patch_remote_cluster(
                &remote.remote_id,
                &RemoteClusterPatch {
                    default_team_id: Some(inbox.clone()),
                    ..RemoteClusterPatch::default()
                },
            )
            .await?;
        tracing::info!(connection = %remote.name, "default team set to the inbox: the connection has rules");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(position: i64, pattern: &str, action: RuleAction) -> StoredRule {
        StoredRule {
            id: format!("r{position}"),
            position,
            rule: NewRule {
                remote_id: "remote".into(),
                pattern: pattern.into(),
                channel_type: None,
                display_pattern: None,
                action,
                apply_pending: false,
                created_by: "admin".into(),
            },
            created_at: 0,
        }
    }

    fn facts<'a>(name: &'a str, channel_type: &'a str) -> Facts<'a> {
        Facts {
            name,
            display_name: name,
            channel_type,
        }
    }

    fn team(id: &str, name: &str) -> Team {
        Team {
            id: id.into(),
            display_name: name.into(),
            ..Team::default()
        }
    }

    #[test]
    fn globs_match_the_whole_name_in_any_case_and_regexes_search() {
        let glob = Pattern::new("eng-*").unwrap();
        assert!(glob.matches("eng-infra"));
        assert!(glob.matches("ENG-x"));
        assert!(glob.matches("eng-"));
        assert!(!glob.matches("xeng-infra"));
        assert!(!glob.matches("eng"));
        let one = Pattern::new("q?-plan").unwrap();
        assert!(one.matches("q3-plan"));
        assert!(!one.matches("q10-plan"));
        // Characters that mean something to a regex are plain in a glob.
        let plain = Pattern::new("a.b+c").unwrap();
        assert!(plain.matches("a.b+c"));
        assert!(!plain.matches("axbbc"));
        let regex = Pattern::new("/-private$/").unwrap();
        assert!(regex.matches("budget-private"));
        assert!(!regex.matches("budget-public"));
    }

    #[test]
    fn bad_patterns_get_one_line_saying_what_is_wrong() {
        for bad in ["/[/", "/(/", "//", "", "a`b", &"x".repeat(PATTERN_MAX + 1)] {
            let why = Pattern::new(bad).unwrap_err();
            assert!(!why.contains('\n'), "{why:?}");
            assert!(!why.is_empty());
        }
        let why = Pattern::new("/[/").unwrap_err();
        assert!(
            why.starts_with("`/[/` is not a valid regular expression: "),
            "{why}"
        );
    }

    #[test]
    fn the_first_match_wins_and_type_and_display_name_narrow_a_rule() {
        let mut private = rule(
            1,
            "*",
            RuleAction::Review {
                suggest: Some("t1".into()),
            },
        );
        private.rule.channel_type = Some("P".into());
        let mut displayed = rule(2, "*", RuleAction::Reject { reason: None });
        displayed.rule.display_pattern = Some("Social *".into());
        let rules = [
            private,
            displayed,
            rule(
                3,
                "eng-*",
                RuleAction::Accept {
                    team_id: "t1".into(),
                },
            ),
            rule(4, "eng-infra", RuleAction::Reject { reason: None }),
        ];
        assert_eq!(
            first_match(&rules, facts("eng-infra", "P"))
                .unwrap()
                .position,
            1
        );
        assert_eq!(
            first_match(&rules, facts("eng-infra", "O"))
                .unwrap()
                .position,
            3
        );
        let social = Facts {
            name: "social-x",
            display_name: "Social club",
            channel_type: "O",
        };
        assert_eq!(first_match(&rules, social).unwrap().position, 2);
        assert!(first_match(&rules, facts("budget", "O")).is_none());
    }

    #[test]
    fn routing_names_the_rule_and_falls_back_to_the_policy() {
        let teams = [team("t1", "Engineering")];
        let rules = [
            rule(
                1,
                "eng-*",
                RuleAction::Accept {
                    team_id: "t1".into(),
                },
            ),
            rule(
                2,
                "gone-*",
                RuleAction::Accept {
                    team_id: "deleted".into(),
                },
            ),
            rule(
                3,
                "social-*",
                RuleAction::Reject {
                    reason: Some("not for us".into()),
                },
            ),
        ];
        assert_eq!(
            route(&rules, None, "org-b", facts("eng-infra", "O"), &teams),
            Routed::Decided {
                verdict: Verdict::Accept,
                team_id: Some("t1".into()),
                reason: None,
                rule: "rule 1 of org-b: `eng-*`".into(),
            }
        );
        assert!(matches!(
            route(&rules, None, "org-b", facts("gone-x", "O"), &teams),
            Routed::Review {
                suggest: None,
                rule: Some(_)
            }
        ));
        assert!(matches!(
            route(&rules, None, "org-b", facts("social-golf", "O"), &teams),
            Routed::Decided { verdict: Verdict::Reject, reason: Some(r), .. } if r == "not for us"
        ));
        let auto = ConnectionPolicy {
            remote_id: "remote".into(),
            policy: Policy::AutoAccept,
            destination_team_id: Some("t1".into()),
            created_by: "admin".into(),
            created_at: 0,
            updated_at: 0,
        };
        assert!(matches!(
            route(&rules, Some(&auto), "org-b", facts("budget", "O"), &teams),
            Routed::Decided { verdict: Verdict::Accept, rule, .. } if rule == "the auto-accept policy of org-b"
        ));
        assert_eq!(
            route(&rules, None, "org-b", facts("budget", "O"), &teams),
            Routed::Review {
                suggest: None,
                rule: None
            }
        );
    }
}
