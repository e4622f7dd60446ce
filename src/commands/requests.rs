//! Commands about received channels and the record: `pending` (members' share requests, then
//! each received channel with the DM's menu and buttons), `move`; how `audit` shows an entry's
//! details.

use serde_json::{json, Map, Value};

use crate::notify::Target;
use crate::store::RequestState;

use super::lookup;
use super::parse::ChannelRef;
use super::{Asked, CommandError, Commands, Reply};

/// The most request cards one `pending` answer posts.
const PENDING_CARDS: usize = 20;

/// A short "what it was about" from an audit entry's detail (JSON written by sharebot).
pub(super) fn about(subject: &str, detail: &str) -> String {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(detail) else {
        return if detail.is_empty() {
            subject.to_string()
        } else {
            detail.to_string()
        };
    };
    let pick = |keys: &[&str], map: &Map<String, Value>| {
        keys.iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_string)
    };
    let what = pick(&["channel"], &map);
    let org = pick(&["org"], &map);
    let team = pick(&["team", "to_team"], &map);
    let mut parts = Vec::new();
    if let Some(c) = what {
        parts.push(c);
    }
    if let Some(o) = org {
        parts.push(o);
    }
    if let Some(t) = team {
        // A relocation names where it moved from too.
        match pick(&["from_team"], &map) {
            Some(from) => parts.push(format!("{from} → {t}")),
            None => parts.push(format!("→ {t}")),
        }
    }
    if let Some(decided) = pick(&["decided"], &map) {
        parts.push(decided);
    }
    if let Some(note) = pick(&["note"], &map) {
        parts.push(format!("“{note}”"));
    }
    if parts.is_empty() {
        subject.to_string()
    } else {
        parts.join(" · ")
    }
}

impl Commands {
    /// `pending`: a header, then one card per request in the thread, each with the same
    /// menu and buttons as the DM (any admin may use them).
    pub(super) async fn pending(&self, asked: &Asked) -> Result<Option<String>, CommandError> {
        let ctx = &self.ctx;
        let waiting: Vec<_> = ctx
            .store
            .pending_requests()
            .await?
            .into_iter()
            .filter(|r| r.deciding.is_none())
            .collect();
        // Members' share requests are listed first, marked as such; incoming channels follow.
        let shares = self.pending_share_list(asked).await?;
        if waiting.is_empty() {
            return match shares {
                Some(text) => Ok(Some(text)),
                None => self.say(asked, "pending_none", json!({})).map(Some),
            };
        }
        if let Some(text) = shares {
            self.post_reply(asked, Reply::text(text)).await;
        }
        let header = self.say(asked, "pending", json!({"count": waiting.len()}))?;
        self.post_answer(asked, Reply::text(header)).await;
        let teams = ctx.teams().await?;
        let target = Target::Thread {
            channel_id: &asked.channel_id,
            root_id: &asked.root_id,
        };
        let recipient = target.recipient();
        for request in waiting.iter().take(PENDING_CARDS) {
            let post = ctx.request_post(request, &recipient, None, &teams).await?;
            ctx.poster
                .send_once(&request.id, target, post, &request.shown_key())
                .await?;
        }
        Ok(None)
    }

    /// `move ~channel to <team>`: relocates a received, accepted channel (same membership
    /// rule as Accept).
    pub(super) async fn move_channel(
        &self,
        asked: &Asked,
        reference: &ChannelRef,
        team: &str,
    ) -> Result<String, CommandError> {
        let channel = lookup::channel(&self.ctx, reference, &asked.team_id).await?;
        let facts = |team: &str| json!({"channel": channel.name, "team": team});
        let request = self
            .ctx
            .store
            .requests_for_channel(&channel.id)
            .await?
            .pop();
        let Some(request) = request else {
            return self.say(asked, "move_not_received", facts(""));
        };
        match request.state {
            RequestState::Pending => return self.say(asked, "move_pending", facts("")),
            RequestState::Accepted => {}
            RequestState::Rejected | RequestState::Withdrawn => {
                return Err(CommandError::NotFound(format!(
                    "~{} was {}; there is nothing to move.",
                    channel.name,
                    request.state.as_str()
                )))
            }
        }
        let team = lookup::destination_team(&self.ctx, team).await?;
        if channel.team_id == team.id {
            return self.say(asked, "move_same", facts(&team.display_name));
        }
        if !self
            .review()
            .relocate(request, team.id.clone(), asked.user_id.clone())
        {
            return self.say(asked, "move_busy", facts(""));
        }
        self.say(asked, "moving", facts(&team.display_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_read_briefly() {
        assert_eq!(
            about(
                "r1",
                r#"{"channel":"Launch","org":"Org B","team":"Marketing"}"#
            ),
            "Launch · Org B · → Marketing"
        );
        assert_eq!(
            about(
                "r1",
                r#"{"channel":"Launch","from_team":"Marketing","to_team":"Engineering"}"#
            ),
            "Launch · Marketing → Engineering"
        );
        assert_eq!(about("r1", ""), "r1");
        assert_eq!(about("r1", "moved"), "moved");
        assert_eq!(about("r1", r#"{"other":1}"#), "r1");
    }
}
