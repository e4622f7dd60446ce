//! The review messages as Mattermost posts: the pending DM with its team menu and buttons,
//! and the outcome every admin's copy is replaced with. Each action carries a signed context;
//! edits always rebuild the whole attachments (integrations included), never reuse props read
//! back from the server, which strips them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::mattermost::models::{
    MessageAttachment, Post, PostAction, PostActionIntegration, PostActionOption, Team,
};
use crate::store::{How, RequestState, ReviewRequest, Verdict};

use super::context::{team_name, Context};
use super::ReviewError;

/// Action ids (alphanumeric, as the server requires) and the actions they stand for.
pub const TEAM_MENU: &str = "team";
pub const ACCEPT: &str = "accept";
pub const REJECT: &str = "reject";
pub const CHOOSE: &str = "choose";
pub const REJECT_REASON: &str = "rejectreason";
pub const RELOCATE: &str = "relocate";
/// On a rejected request: a reject rule for exactly that name, or one whose pattern the admin
/// edits in a dialog.
pub const ALWAYS_REJECT: &str = "alwaysreject";
pub const ALWAYS_REJECT_EDIT: &str = "alwaysrejectedit";

/// The `kind` of a review button's sealed context (a sealed map is good only for its kind).
pub const REVIEW_BUTTON: &str = "review_button";
/// The `kind` of the team dialog's sealed state.
pub const REVIEW_DIALOG: &str = "review_dialog";
/// The `kind` of the Always reject dialog's sealed state.
pub const ALWAYS_DIALOG: &str = "always_reject_dialog";
/// The `kind` of the reject dialog's sealed state.
pub const REVIEW_REJECT_DIALOG: &str = "review_reject_dialog";

/// Colours of the attachment's side bar.
const PENDING_COLOR: &str = "#1c58d9";
const ACCEPTED_COLOR: &str = "#3db887";
const REJECTED_COLOR: &str = "#d24b4e";
const NEUTRAL_COLOR: &str = "#8a8a8a";

/// `2026-11-26 10:42 UTC`: how every post and answer writes a time. Posts stay on screen for
/// days and Mattermost's Markdown has no date that renders per reader, so a time written into
/// a post is absolute, never "3 min ago".
pub fn timestamp(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// `3 min ago`, `2 h ago`, `1 day ago`.
pub fn ago(ms: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(ms);
    let secs = ((now - ms).max(0)) / 1000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86399 => format!("{} h ago", secs / 3600),
        _ if secs / 86400 == 1 => "1 day ago".into(),
        _ => format!("{} days ago", secs / 86400),
    }
}

fn channel_type(t: &str) -> &'static str {
    match t {
        "P" => "private channel",
        _ => "public channel",
    }
}

/// The facts every review template gets.
fn facts(request: &ReviewRequest) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("org".into(), json!(request.org_name));
    m.insert("channel".into(), json!(request.channel_display_name));
    m.insert(
        "channel_type".into(),
        json!(channel_type(&request.channel_type)),
    );
    m.insert("purpose".into(), json!(request.channel_purpose));
    m.insert("header".into(), json!(request.channel_header));
    // Frozen when the post is written: kept for existing template overrides, unused by the
    // built-in templates, which show `arrived_at`.
    m.insert("ago".into(), json!(ago(request.created_at)));
    m.insert("arrived_at".into(), json!(timestamp(request.created_at)));
    m
}

/// Renders `template` with the request's facts plus `extra`.
pub fn render(
    ctx: &Context,
    template: &str,
    request: &ReviewRequest,
    extra: Value,
) -> Result<String, ReviewError> {
    let mut m = facts(request);
    if let Value::Object(extra) = extra {
        m.extend(extra);
    }
    Ok(ctx.templates.render(template, &Value::Object(m))?)
}

impl Context {
    /// A signed integration for `action` on `request`, for the post that goes to `recipient`.
    fn integration(
        &self,
        request: &ReviewRequest,
        action: &str,
        recipient: &str,
    ) -> PostActionIntegration {
        let mut context = Map::new();
        context.insert("kind".into(), json!(REVIEW_BUTTON));
        context.insert("request".into(), json!(request.id));
        context.insert("action".into(), json!(action));
        context.insert("recipient".into(), json!(recipient));
        PostActionIntegration {
            url: self.actions_url.clone(),
            context: self.signer.seal(context),
        }
    }

    fn button(
        &self,
        request: &ReviewRequest,
        id: &str,
        name: &str,
        style: &str,
        recipient: &str,
    ) -> PostAction {
        PostAction {
            id: id.into(),
            action_type: "button".into(),
            name: name.into(),
            style: style.into(),
            integration: Some(self.integration(request, id, recipient)),
            ..PostAction::default()
        }
    }

    fn team_menu(
        &self,
        request: &ReviewRequest,
        id: &str,
        name: &str,
        teams: &[Team],
        selected: Option<&str>,
        recipient: &str,
    ) -> PostAction {
        PostAction {
            id: id.into(),
            action_type: "select".into(),
            name: name.into(),
            options: teams
                .iter()
                .map(|t| PostActionOption {
                    text: t.display_name.clone(),
                    value: t.id.clone(),
                })
                .collect(),
            default_option: selected.unwrap_or_default().to_string(),
            integration: Some(self.integration(request, id, recipient)),
            ..PostAction::default()
        }
    }

    /// The post about `request` for `recipient` as the request stands now: the pending DM
    /// (menu preset to `chosen`, else the suggested team) or the outcome.
    pub async fn request_post(
        &self,
        request: &ReviewRequest,
        recipient: &str,
        chosen: Option<&str>,
        teams: &[Team],
    ) -> Result<Post, ReviewError> {
        self.request_post_counted(request, recipient, chosen, teams, None)
            .await
    }

    /// [`Context::request_post`] with the number of pending requests already counted (a
    /// fan-out counts once, not once per admin).
    pub async fn request_post_counted(
        &self,
        request: &ReviewRequest,
        recipient: &str,
        chosen: Option<&str>,
        teams: &[Team],
        counted: Option<i64>,
    ) -> Result<Post, ReviewError> {
        let pending = request.state == RequestState::Pending && request.deciding.is_none();
        // A team admin's menu lists only the teams they administer.
        let menu_teams;
        let teams = if pending {
            menu_teams = self.menu_teams(recipient, teams).await?;
            &menu_teams[..]
        } else {
            teams
        };
        let (text, color, actions) = if pending {
            let waiting = match counted {
                Some(n) => n,
                None => self.store.pending_count().await?,
            };
            let text = self.pending_text(request, teams, waiting)?;
            let actions = self.pending_actions(request, recipient, chosen, teams);
            (text, PENDING_COLOR, actions)
        } else {
            let outcome = match (request.state, request.deciding) {
                (RequestState::Pending, Some(Verdict::Accept)) => "accepting",
                (RequestState::Pending, _) => "rejecting",
                (RequestState::Accepted, _)
                    if request.auto_accepted && request.moved_by.is_none() =>
                {
                    "auto_accepted_fresh"
                }
                (RequestState::Accepted, _) if request.auto_accepted => "auto_accepted",
                (RequestState::Accepted, _) => "accepted",
                (RequestState::Rejected, _) if request.how() == Some(How::Expiry) => "expired",
                (RequestState::Rejected, _) => "rejected",
                (RequestState::Withdrawn, _) => "withdrawn",
            };
            let by = match &request.decided_by {
                Some(decider) => self.username(decider.as_str()).await,
                None => String::new(),
            };
            // A relocation keeps the decision: accepted into the first team by whoever
            // decided, then moved by whoever moved it last.
            let moved_by = match request.moved_by.as_deref() {
                Some(id) => self.username(id).await,
                None => String::new(),
            };
            let moved_at = request.moved_at.map(timestamp).unwrap_or_default();
            // A refusal an admin made: it may become a rule, unless one already refuses the name.
            let always = if request.state == RequestState::Rejected
                && request.rule.is_none()
                && request.how() != Some(How::Expiry)
            {
                self.rule_rejecting(request).await?
            } else {
                None
            };
            let first_team = request
                .accepted_team_id
                .as_deref()
                .or(request.team_id.as_deref());
            let (by, at) = if outcome == "auto_accepted" {
                (moved_by.clone(), moved_at.clone())
            } else {
                (by, request.decided_at.map(timestamp).unwrap_or_default())
            };
            let context = json!({
                "outcome": outcome,
                "team": team_name(teams, request.team_id.as_deref()),
                "first_team": team_name(teams, first_team),
                "moved_by": moved_by,
                "moved_at": moved_at,
                "by": by,
                "at": at,
                "note": request.note.clone().unwrap_or_default(),
                "told": request.did("told"),
                "rule": request.rule.clone().unwrap_or_default(),
                "always": always.as_ref().map(|r| r.1.clone()).unwrap_or_default(),
            });
            let text = if outcome == "auto_accepted_fresh" {
                render(self, "auto_accept_notice.md.j2", request, context)?
            } else {
                render(self, "review_outcome.md.j2", request, context)?
            };
            let color = match request.state {
                RequestState::Accepted => ACCEPTED_COLOR,
                RequestState::Rejected => REJECTED_COLOR,
                _ => NEUTRAL_COLOR,
            };
            let mut actions = Vec::new();
            if request.state == RequestState::Rejected
                && request.rule.is_none()
                && request.how() != Some(How::Expiry)
                && always.is_none()
            {
                let name = format!(
                    "Always reject {} from {}",
                    request.channel_name, request.org_name
                );
                actions.push(self.button(request, ALWAYS_REJECT, &name, "danger", recipient));
                actions.push(self.button(
                    request,
                    ALWAYS_REJECT_EDIT,
                    "Always reject…",
                    "default",
                    recipient,
                ));
            }
            if request.state == RequestState::Accepted {
                let elsewhere: Vec<Team> = teams
                    .iter()
                    .filter(|t| Some(t.id.as_str()) != request.team_id.as_deref())
                    .cloned()
                    .collect();
                if !elsewhere.is_empty() {
                    actions.push(self.team_menu(
                        request,
                        RELOCATE,
                        "Move to another team",
                        &elsewhere,
                        None,
                        recipient,
                    ));
                }
            }
            (text, color, actions)
        };
        Ok(attachment_post(request, color, text, actions))
    }

    /// The posts about `request` for each of `recipients` (no team chosen yet), with `waiting`
    /// requests pending. While it is pending the text is rendered once for all of them and
    /// only the buttons (signed for each recipient) differ.
    pub async fn request_posts(
        &self,
        request: &ReviewRequest,
        recipients: &[&str],
        teams: &[Team],
        waiting: i64,
    ) -> Result<Vec<Post>, ReviewError> {
        if request.state != RequestState::Pending || request.deciding.is_some() {
            let mut posts = Vec::with_capacity(recipients.len());
            for recipient in recipients {
                posts.push(
                    self.request_post_counted(request, recipient, None, teams, Some(waiting))
                        .await?,
                );
            }
            return Ok(posts);
        }
        let text = self.pending_text(request, teams, waiting)?;
        let mut posts = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            // A team admin's menu lists only the teams they administer.
            let menu = self.menu_teams(recipient, teams).await?;
            let actions = self.pending_actions(request, recipient, None, &menu);
            posts.push(attachment_post(
                request,
                PENDING_COLOR,
                text.clone(),
                actions,
            ));
        }
        Ok(posts)
    }

    /// The text of a pending request's post, the same for every recipient.
    fn pending_text(
        &self,
        request: &ReviewRequest,
        teams: &[Team],
        waiting: i64,
    ) -> Result<String, ReviewError> {
        let suggested = request.suggested_team_id.as_deref();
        render(
            self,
            "review_request.md.j2",
            request,
            json!({"pending": waiting, "suggested_team": team_name(teams, suggested)}),
        )
    }

    /// A pending request's menu and buttons for `recipient`, the menu preset to `chosen` (else
    /// the suggested team) when it is listed.
    fn pending_actions(
        &self,
        request: &ReviewRequest,
        recipient: &str,
        chosen: Option<&str>,
        teams: &[Team],
    ) -> Vec<PostAction> {
        let selected = chosen
            .or(request.suggested_team_id.as_deref())
            .filter(|id| teams.iter().any(|t| t.id == *id));
        vec![
            self.team_menu(request, TEAM_MENU, "Team", teams, selected, recipient),
            self.button(request, ACCEPT, "Accept", "primary", recipient),
            self.button(request, REJECT, "Reject", "danger", recipient),
            self.button(request, CHOOSE, "Choose team…", "default", recipient),
            self.button(
                request,
                REJECT_REASON,
                "Reject with reason…",
                "default",
                recipient,
            ),
        ]
    }
}

/// A post about `request` whose message is empty and whose one attachment shows everything.
fn attachment_post(
    request: &ReviewRequest,
    color: &str,
    text: String,
    actions: Vec<PostAction>,
) -> Post {
    Post {
        message: String::new(),
        props: crate::mattermost::models::PostProps {
            attachments: vec![MessageAttachment {
                fallback: format!("{} from {}", request.channel_display_name, request.org_name),
                color: color.into(),
                text,
                actions,
                ..MessageAttachment::default()
            }],
            // Marked with its request even when it reaches the server as a click's `update`,
            // which replaces the post's props whole.
            other: Map::from_iter([(
                crate::notify::REQUEST_MARKER.to_string(),
                serde_json::json!(request.id),
            )]),
        },
        ..Post::default()
    }
}

impl Context {
    /// The first reject rule of the request's connection that matches its channel exactly as
    /// it arrived, with its name ("rule 3 of org-a: `budget`"), if any.
    pub(super) async fn rule_rejecting(
        &self,
        request: &ReviewRequest,
    ) -> Result<Option<(crate::store::StoredRule, String)>, ReviewError> {
        let rules = self.store.rules(&request.remote_id).await?;
        let facts = super::rules::Facts {
            name: &request.channel_name,
            display_name: &request.channel_display_name,
            channel_type: &request.channel_type,
        };
        Ok(super::rules::first_match(&rules, facts)
            .filter(|r| matches!(r.rule.action, crate::store::RuleAction::Reject { .. }))
            .map(|r| {
                let connection = self.connection_name(&request.remote_id);
                (r.clone(), super::rules::describe(r, &connection))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(timestamp(0), "1970-01-01 00:00 UTC");
        assert_eq!(timestamp(1_764_153_720_000), "2025-11-26 10:42 UTC");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert_eq!(ago(now), "just now");
        assert_eq!(ago(now - 180_000), "3 min ago");
        assert_eq!(ago(now - 2 * 3_600_000), "2 h ago");
        assert_eq!(ago(now - 86_400_000), "1 day ago");
        assert_eq!(ago(now - 3 * 86_400_000), "3 days ago");
    }
}
