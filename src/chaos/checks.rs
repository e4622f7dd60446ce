//! The end-of-run checks: every shared channel has one request, decided at most once and placed
//! as decided; every admin has one DM per request showing its outcome; every command one answer.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::PgConnection;

use crate::notify::REQUEST_MARKER;

use super::setup::World;

/// The colours of a review DM's attachment for each state (see `review::message`).
const PENDING_COLOR: &str = "#1c58d9";
const ACCEPTED_COLOR: &str = "#3db887";
const REJECTED_COLOR: &str = "#d24b4e";

/// What the checks found.
#[derive(Debug, Default)]
pub struct Findings {
    pub shared: usize,
    pub arrived: usize,
    /// Shares whose invite Org A's server reported as failed (nothing reached Org B).
    pub invites_failed: usize,
    pub requests: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub pending: usize,
    pub relocations: usize,
    pub failed_decisions: usize,
    pub dms: usize,
    pub commands: usize,
    pub answers: usize,
    /// Answers that were the "I was restarted" note.
    pub restarted_notes: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// One line for each problem (the first few are printed).
    pub problems: Vec<String>,
}

impl Findings {
    fn lose(&mut self, what: String) {
        self.lost += 1;
        self.problems.push(format!("lost: {what}"));
    }

    fn double(&mut self, what: String) {
        self.duplicated += 1;
        self.problems.push(format!("duplicated: {what}"));
    }
}

/// `id, channel_id, state, team_id, deciding, relocating_to` of a request.
type RequestRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

struct Row {
    id: String,
    channel_id: String,
    state: String,
    team_id: Option<String>,
    deciding: Option<String>,
    relocating_to: Option<String>,
}

/// Runs every check against Org B's state and the run's database.
pub async fn check(
    world: &World,
    shared: &[String],
    db: &mut PgConnection,
) -> Result<Findings, String> {
    let mut f = Findings {
        shared: shared.len(),
        ..Findings::default()
    };
    let rows: Vec<RequestRow> = sqlx::query_as(
        "SELECT id, channel_id, state, team_id, deciding, relocating_to FROM review_requests
             WHERE state <> 'withdrawn'",
    )
    .fetch_all(&mut *db)
    .await
    .map_err(|e| format!("cannot read the requests: {e}"))?;
    let rows: Vec<Row> = rows
        .into_iter()
        .map(
            |(id, channel_id, state, team_id, deciding, relocating_to)| Row {
                id,
                channel_id,
                state,
                team_id,
                deciding,
                relocating_to,
            },
        )
        .collect();
    let withdrawn: Vec<String> =
        sqlx::query_scalar("SELECT channel_id FROM review_requests WHERE state = 'withdrawn'")
            .fetch_all(&mut *db)
            .await
            .map_err(|e| format!("cannot read the requests: {e}"))?;
    let audits: Vec<(String, String)> =
        sqlx::query_as("SELECT subject, action FROM audit_log WHERE action LIKE 'request.%'")
            .fetch_all(&mut *db)
            .await
            .map_err(|e| format!("cannot read the audit log: {e}"))?;
    let mut decided: HashMap<&str, usize> = HashMap::new();
    for (subject, action) in &audits {
        match action.as_str() {
            "request.accepted" | "request.rejected" => *decided.entry(subject).or_default() += 1,
            "request.relocated" => f.relocations += 1,
            a if a.ends_with("_failed") => f.failed_decisions += 1,
            _ => {}
        }
    }
    let mut by_channel: HashMap<&str, Vec<&Row>> = HashMap::new();
    for row in &rows {
        by_channel.entry(&row.channel_id).or_default().push(row);
    }
    // Every channel Org A shared has arrived and has exactly one request.
    for channel in shared {
        if world.b.channel(channel).is_none() {
            // Mattermost sends a channel invite once and tells the sharing admin when it
            // fails (`SendChannelInvite`): under a storm on Org B that is Mattermost's refusal,
            // seen by the person sharing, not something the bot could have received.
            if world.a.shares_with(channel, &world.remote_id) {
                f.lose(format!("channel {channel} never arrived at Org B"));
            } else {
                f.invites_failed += 1;
            }
            continue;
        }
        f.arrived += 1;
        match by_channel.get(channel.as_str()).map_or(0, Vec::len) {
            0 => {
                let withdrawn = withdrawn.iter().filter(|c| c == &channel).count();
                f.lose(format!(
                    "channel {channel} has no live request ({withdrawn} withdrawn)"
                ))
            }
            1 => {}
            n => f.double(format!("channel {channel} has {n} requests")),
        }
    }
    let inbox = world.team_id("shared-inbox");
    for row in &rows {
        f.requests += 1;
        let decisions = decided.get(row.id.as_str()).copied().unwrap_or(0);
        if decisions > 1 {
            f.double(format!("request {} decided {decisions} times", row.id));
        }
        if row.deciding.is_some() || row.relocating_to.is_some() {
            f.lose(format!(
                "request {} still being decided or moved after the settle period",
                row.id
            ));
        }
        let channel = world.b.channel(&row.channel_id);
        let (team, archived) = channel.as_ref().map_or((String::new(), false), |c| {
            (c.team_id.clone(), c.delete_at != 0)
        });
        let color = match row.state.as_str() {
            "accepted" => {
                f.accepted += 1;
                if decisions == 0 {
                    f.lose(format!(
                        "request {} accepted without its audit record",
                        row.id
                    ));
                }
                if archived || Some(&team) != row.team_id.as_ref() {
                    f.lose(format!(
                        "request {} accepted but its channel is not in that team",
                        row.id
                    ));
                }
                ACCEPTED_COLOR
            }
            "rejected" => {
                f.rejected += 1;
                if decisions == 0 {
                    f.lose(format!(
                        "request {} rejected without its audit record",
                        row.id
                    ));
                }
                if !archived {
                    f.lose(format!(
                        "request {} rejected but its channel is not archived",
                        row.id
                    ));
                }
                REJECTED_COLOR
            }
            _ => {
                f.pending += 1;
                if decisions > 0 {
                    f.lose(format!("request {} pending but audited as decided", row.id));
                }
                if archived || team != inbox {
                    f.lose(format!(
                        "request {} pending but its channel left the inbox",
                        row.id
                    ));
                }
                PENDING_COLOR
            }
        };
        // Every admin: one DM about it, showing the outcome.
        for admin in &world.admins {
            let copies = world.b.posts(|p| {
                p.channel_id == admin.dm
                    && p.user_id == world.bot_id
                    && p.root_id.is_empty()
                    && p.props.get(REQUEST_MARKER).and_then(Value::as_str) == Some(row.id.as_str())
            });
            match copies.len() {
                0 => {
                    let claim = claim_state(db, &row.id, &admin.id).await;
                    f.lose(format!(
                        "{} has no DM about request {} ({claim})",
                        admin.username, row.id
                    ));
                    continue;
                }
                1 => f.dms += 1,
                n => {
                    f.dms += 1;
                    f.double(format!(
                        "{} has {n} DMs about request {}",
                        admin.username, row.id
                    ));
                }
            }
            let shown = copies[0]
                .props
                .get("attachments")
                .and_then(|a| a.get(0))
                .and_then(|a| a.get("color"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let names_team = row.state != "accepted" || {
                let display = world
                    .teams
                    .iter()
                    .find(|(id, _, _)| Some(id) == row.team_id.as_ref())
                    .map(|(_, _, d)| d.as_str())
                    .unwrap_or("?");
                copies[0]
                    .props
                    .get("attachments")
                    .is_some_and(|a| a.to_string().contains(display))
            };
            if shown != color || !names_team {
                f.lose(format!(
                    "{}'s DM about request {} does not show its {} outcome",
                    admin.username, row.id, row.state
                ));
            }
        }
    }
    // Every command: exactly one answer in its thread.
    let people: Vec<&str> = world.admins.iter().map(|a| a.id.as_str()).collect();
    let commands = world.b.posts(|p| {
        p.channel_id == world.admin_channel
            && p.root_id.is_empty()
            && people.contains(&p.user_id.as_str())
            && p.message.starts_with("@sharebot ")
    });
    for command in &commands {
        f.commands += 1;
        let answers = world
            .b
            .posts(|p| p.root_id == command.id && p.user_id == world.bot_id);
        f.answers += answers.len().min(1);
        if answers
            .iter()
            .any(|a| a.message.contains("I was restarted"))
        {
            f.restarted_notes += 1;
        }
        match answers.len() {
            0 => f.lose(format!(
                "command {:?} ({}) has no answer",
                command.message, command.id
            )),
            1 => {}
            n => f.double(format!(
                "command {:?} ({}) answered {n} times",
                command.message, command.id
            )),
        }
    }
    Ok(f)
}

/// What the database says of the DM to `admin` about `request` (for a lost one's report).
async fn claim_state(db: &mut PgConnection, request: &str, admin: &str) -> String {
    let row: Result<Option<(Option<String>, i64, i64)>, _> = sqlx::query_as(
        "SELECT post_id, created_at, updated_at FROM notification_posts
         WHERE request_id = $1 AND admin_user_id = $2",
    )
    .bind(request)
    .bind(admin)
    .fetch_optional(&mut *db)
    .await;
    let now = crate::ids::now_ms();
    match row {
        Ok(None) => "never claimed".into(),
        Ok(Some((None, created, updated))) => format!(
            "claimed {:.1} s ago, last touched {:.1} s ago, no post recorded",
            (now - created) as f64 / 1000.0,
            (now - updated) as f64 / 1000.0
        ),
        Ok(Some((Some(post), created, _))) => format!(
            "claimed {:.1} s ago, post {post} recorded",
            (now - created) as f64 / 1000.0
        ),
        Err(err) => format!("its claim cannot be read: {err}"),
    }
}
