//! Commands about routing rules: `rules <connection>`, `rule add|remove|move`, and
//! `rule test`, a dry run through the same routing an arriving channel takes.

use serde_json::{json, Value};

use crate::mattermost::models::RemoteCluster;
use crate::review::{action_phrase, route, rule_summary, Facts, Pattern, Routed, RuleChange};
use crate::store::{ConnectionPolicy, NewRule, Policy, RuleAction, Verdict};

use super::lookup;
use super::parse::{RuleArg, RuleSpec};
use super::{Asked, CommandError, Commands};

impl Commands {
    /// Renders `command_rules.md.j2` with `reply` and the connection's names.
    fn rules_say(
        &self,
        asked: &Asked,
        reply: &str,
        rc: &RemoteCluster,
        extra: Value,
    ) -> Result<String, CommandError> {
        let mut context = json!({
            "reply": reply, "org": rc.display_name, "name": rc.name, "mention": self.mention(asked),
            "fallback": "", "position": 0, "from": 0, "what": "", "apply_pending": false,
            "inbox": "", "left": 0, "count": 0, "channel": "", "channel_type": "", "rule": "",
            "rules": [],
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut context, extra) {
            c.extend(e);
        }
        Ok(self.ctx.templates.render("command_rules.md.j2", &context)?)
    }

    /// What the connection's policy does with a channel no rule matches.
    async fn fallback(&self, rc: &RemoteCluster) -> Result<String, CommandError> {
        let policy = self.ctx.store.policy(&rc.remote_id).await?;
        let teams = self.ctx.teams().await?;
        Ok(match policy {
            Some(ConnectionPolicy {
                policy: Policy::AutoAccept,
                destination_team_id: Some(team),
                ..
            }) => format!(
                "accepted into {} by the connection's policy",
                action_phrase(&RuleAction::Accept { team_id: team }, &teams)
                    .trim_start_matches("accept into ")
            ),
            _ => format!(
                "waits for review in **{}**",
                self.ctx.places.inbox_team.display_name
            ),
        })
    }

    /// `rules <connection>`.
    pub(super) async fn list_rules(
        &self,
        asked: &Asked,
        name: &str,
    ) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, name).await?;
        let rules = self.ctx.store.rules(&rc.remote_id).await?;
        let teams = self.ctx.teams().await?;
        let rows: Vec<Value> = rules
            .iter()
            .map(|r| {
                json!({"position": r.position, "what": rule_summary(&r.rule, &teams),
                       "apply_pending": r.rule.apply_pending})
            })
            .collect();
        let fallback = self.fallback(&rc).await?;
        self.rules_say(
            asked,
            "list",
            &rc,
            json!({"rules": rows, "fallback": fallback}),
        )
    }

    /// `rule add …`: checked (the pattern compiles, the teams exist and are not the inbox)
    /// before anything is written.
    pub(super) async fn add_rule(
        &self,
        asked: &Asked,
        spec: &RuleSpec,
    ) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, &spec.name).await?;
        Pattern::new(&spec.pattern).map_err(CommandError::NotFound)?;
        if let Some(display) = &spec.display {
            Pattern::new(display)
                .map_err(|why| CommandError::NotFound(format!("--display: {why}")))?;
        }
        let action = match &spec.action {
            RuleArg::Accept { team } => RuleAction::Accept {
                team_id: lookup::destination_team(&self.ctx, team).await?.id,
            },
            RuleArg::Review { suggest } => RuleAction::Review {
                suggest: match suggest {
                    Some(team) => Some(lookup::destination_team(&self.ctx, team).await?.id),
                    None => None,
                },
            },
            RuleArg::Reject { reason } => RuleAction::Reject {
                reason: reason.clone(),
            },
        };
        let rule = NewRule {
            remote_id: rc.remote_id.clone(),
            pattern: spec.pattern.clone(),
            channel_type: spec
                .private
                .map(|p| if p { "P".to_string() } else { "O".to_string() }),
            display_pattern: spec.display.clone(),
            action,
            apply_pending: spec.apply_pending,
            created_by: asked.user_id.clone(),
        };
        let moved_to_inbox = rc.default_team_id != self.ctx.places.inbox_team.id;
        let made = self
            .review()
            .change_rules(&rc, RuleChange::Add(rule), &asked.user_id)
            .await?
            .ok_or_else(|| CommandError::NotFound("The rule could not be added.".into()))?;
        let teams = self.ctx.teams().await?;
        let inbox = if moved_to_inbox {
            self.ctx.places.inbox_team.display_name.clone()
        } else {
            String::new()
        };
        self.rules_say(
            asked,
            "added",
            &rc,
            json!({"position": made.position, "what": rule_summary(&made.rule, &teams),
                   "apply_pending": made.rule.apply_pending, "inbox": inbox}),
        )
    }

    /// `rule remove <connection> <n>` and `rule move <connection> <n> <m>`.
    pub(super) async fn reorder_rule(
        &self,
        asked: &Asked,
        name: &str,
        from: usize,
        to: Option<usize>,
    ) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, name).await?;
        let change = match to {
            Some(to) => RuleChange::Move(from as i64, to as i64),
            None => RuleChange::Remove(from as i64),
        };
        let changed = self
            .review()
            .change_rules(&rc, change, &asked.user_id)
            .await?;
        let Some(rule) = changed else {
            let count = self.ctx.store.rules(&rc.remote_id).await?.len();
            let wrong = match to {
                Some(to) if (1..=count).contains(&from) => to,
                _ => from,
            };
            return self.rules_say(
                asked,
                "no_such_rule",
                &rc,
                json!({"count": count, "position": wrong}),
            );
        };
        let teams = self.ctx.teams().await?;
        let what = rule_summary(&rule.rule, &teams);
        match to {
            Some(_) => self.rules_say(
                asked,
                "moved",
                &rc,
                json!({"from": from, "position": rule.position, "what": what}),
            ),
            None => {
                let left = self.ctx.store.rules(&rc.remote_id).await?.len();
                self.rules_say(
                    asked,
                    "removed",
                    &rc,
                    json!({"position": rule.position, "what": what, "left": left}),
                )
            }
        }
    }

    /// `rule test <connection> <channel name> [--private]`: which rule would decide and what
    /// it would do, through the routing an arriving channel takes; nothing is changed.
    pub(super) async fn test_rule(
        &self,
        asked: &Asked,
        name: &str,
        channel: &str,
        private: bool,
    ) -> Result<String, CommandError> {
        let rc = lookup::connection(&self.ctx, name).await?;
        let rules = self.ctx.store.rules(&rc.remote_id).await?;
        let policy = self.ctx.store.policy(&rc.remote_id).await?;
        let teams = self.ctx.teams().await?;
        let channel_type = if private { "P" } else { "O" };
        let facts = Facts {
            name: channel,
            display_name: channel,
            channel_type,
        };
        let routed = route(&rules, policy.as_ref(), &rc.name, facts, &teams);
        let what = match &routed {
            Routed::Decided {
                verdict: Verdict::Accept,
                team_id,
                ..
            } => action_phrase(
                &RuleAction::Accept {
                    team_id: team_id.clone().unwrap_or_default(),
                },
                &teams,
            ),
            Routed::Decided { reason, .. } => action_phrase(
                &RuleAction::Reject {
                    reason: reason.clone(),
                },
                &teams,
            ),
            Routed::Review { suggest, .. } => {
                let phrase = action_phrase(
                    &RuleAction::Review {
                        suggest: suggest.clone(),
                    },
                    &teams,
                );
                format!(
                    "{phrase} in **{}**, every admin asked by direct message",
                    self.ctx.places.inbox_team.display_name
                )
            }
        };
        let rule = match &routed {
            Routed::Decided { rule, .. } => rule.clone(),
            Routed::Review { rule, .. } => rule.clone().unwrap_or_default(),
        };
        let fallback = if rule.is_empty() {
            self.fallback(&rc).await?
        } else {
            String::new()
        };
        self.rules_say(
            asked,
            "test",
            &rc,
            json!({"channel": channel, "channel_type": if private { "private" } else { "public" },
                   "rule": rule, "what": what, "fallback": fallback}),
        )
    }
}
