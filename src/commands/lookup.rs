//! Finding what a command names: connections by name or display name, teams by name or
//! display name, channels by `~name` (in the current team first), `team/channel`, display name
//! or link, users by `@name`.

use crate::mattermost::models::{Channel, RemoteCluster, RemoteClusterFilter, Team};
use crate::review::Context;

use super::parse::ChannelRef;
use super::CommandError;

/// Every connection that is not deleted, pending ones included, by display name.
pub async fn connections(ctx: &Context) -> Result<Vec<RemoteCluster>, CommandError> {
    let mut all = ctx
        .client
        .list_remote_clusters(&RemoteClusterFilter::default())
        .await?;
    all.retain(|rc| rc.delete_at == 0);
    all.sort_by(|a, b| {
        a.display_name
            .to_lowercase()
            .cmp(&b.display_name.to_lowercase())
    });
    Ok(all)
}

/// The connection called `name` (its name, or its display name in any case).
pub async fn connection(ctx: &Context, name: &str) -> Result<RemoteCluster, CommandError> {
    let all = connections(ctx).await?;
    find_connection(&all, name).cloned().ok_or_else(|| {
        let known: Vec<String> = all.iter().map(|rc| format!("`{}`", rc.name)).collect();
        CommandError::NotFound(if known.is_empty() {
            format!("There is no connection named \"{name}\" (there are no connections yet).")
        } else {
            format!(
                "There is no connection named \"{name}\". Known: {}.",
                known.join(", ")
            )
        })
    })
}

/// `name` among `all`: by name, then by display name, both without regard to case.
pub fn find_connection<'a>(all: &'a [RemoteCluster], name: &str) -> Option<&'a RemoteCluster> {
    all.iter()
        .find(|rc| rc.name.eq_ignore_ascii_case(name))
        .or_else(|| {
            all.iter()
                .find(|rc| rc.display_name.to_lowercase() == name.to_lowercase())
        })
}

/// Every live team, the inbox team included.
pub async fn all_teams(ctx: &Context) -> Result<Vec<Team>, CommandError> {
    let mut teams = ctx.client.teams().await?;
    teams.retain(|t| t.delete_at == 0);
    Ok(teams)
}

/// A team a channel can be sent to (not the inbox team), by name, display name or id.
pub async fn destination_team(ctx: &Context, text: &str) -> Result<Team, CommandError> {
    let teams = ctx.refresh_teams().await?;
    let wanted = text.trim().trim_start_matches('~');
    if let Some(team) = find_team(&teams, wanted) {
        return Ok(team.clone());
    }
    let inbox = &ctx.places.inbox_team;
    if inbox.name.eq_ignore_ascii_case(wanted) || inbox.display_name.eq_ignore_ascii_case(wanted) {
        return Err(CommandError::NotFound(format!(
            "**{}** is the review inbox; pick a team channels can stay in.",
            inbox.display_name
        )));
    }
    let names: Vec<String> = teams.iter().map(|t| format!("`{}`", t.name)).collect();
    Err(CommandError::NotFound(format!(
        "There is no team \"{wanted}\". Teams: {}.",
        names.join(", ")
    )))
}

fn find_team<'a>(teams: &'a [Team], wanted: &str) -> Option<&'a Team> {
    teams
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(wanted) || t.id == wanted)
        .or_else(|| {
            teams
                .iter()
                .find(|t| t.display_name.to_lowercase() == wanted.to_lowercase())
        })
}

/// The name a display name would most likely have (`Launch plan` → `launch-plan`).
fn name_from_display(display: &str) -> String {
    let mut name = String::new();
    for c in display.trim().chars() {
        if c.is_alphanumeric() {
            name.extend(c.to_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    name.trim_end_matches('-').to_string()
}

/// The live channel called `name` (or one of the `candidates`) in `team`, if any; within a
/// team the typed name wins over the guess.
async fn channel_in(
    ctx: &Context,
    team: &Team,
    candidates: &[String],
) -> Result<Option<Channel>, CommandError> {
    for name in candidates {
        match ctx.client.channel_by_name(&team.name, name).await {
            Ok(c) if c.delete_at == 0 => return Ok(Some(c)),
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.status() == Some(403) => {}
            Err(e) => return Err(CommandError::from(e)),
        }
    }
    Ok(None)
}

/// The answer for a channel that cannot be found (or may not be shown).
pub fn channel_not_found(what: &str) -> CommandError {
    CommandError::NotFound(format!(
        "I can't find the channel {what}. Use `~channel-name` or paste the channel's link."
    ))
}

/// The channel a command names. `team/channel` and links name the team; a plain name is
/// looked up first in `current_team` (the team of the channel the command was typed in, empty
/// in a direct message), as Mattermost resolves `~name`, then in every team. A display name
/// matches a received channel sharebot knows, or the name it would have. A name found in
/// several other teams is an error that lists the `team/channel` forms to pick from.
pub async fn channel(
    ctx: &Context,
    reference: &ChannelRef,
    current_team: &str,
) -> Result<Channel, CommandError> {
    match reference {
        ChannelRef::Link { team, channel } => ctx
            .client
            .channel_by_name(team, channel)
            .await
            .map_err(|e| {
                if e.is_not_found() || e.status() == Some(403) {
                    channel_not_found(&format!("`{team}/{channel}`"))
                } else {
                    CommandError::Mattermost(e)
                }
            }),
        ChannelRef::Name(text) => {
            let text = text.trim().trim_start_matches('~');
            let teams = all_teams(ctx).await?;
            let mut found = named(ctx, &teams, text, current_team).await?;
            match found.len() {
                0 => Err(channel_not_found(&format!("\"{text}\""))),
                1 => Ok(found.remove(0)),
                _ => {
                    let mut forms: Vec<String> = found
                        .iter()
                        .map(|c| {
                            let team = teams
                                .iter()
                                .find(|t| t.id == c.team_id)
                                .map(|t| t.name.as_str())
                                .unwrap_or_default();
                            format!("`{team}/{}`", c.name)
                        })
                        .collect();
                    forms.sort();
                    Err(CommandError::NotFound(format!(
                        "\"{text}\" names a channel in several teams: write {}, or paste the channel's link.",
                        or_list(&forms)
                    )))
                }
            }
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Every live channel `text` names, before deciding between them: the one in `current_team`
/// when that team has it (as Mattermost resolves `~name`), else one per other team that has
/// it, else a received channel sharebot knows by its display name.
async fn named(
    ctx: &Context,
    teams: &[Team],
    text: &str,
    current_team: &str,
) -> Result<Vec<Channel>, CommandError> {
    let mut candidates = vec![text.to_lowercase()];
    let guessed = name_from_display(text);
    if !guessed.is_empty() && !candidates.contains(&guessed) {
        candidates.push(guessed);
    }
    if let Some(here) = teams.iter().find(|t| t.id == current_team) {
        if let Some(channel) = channel_in(ctx, here, &candidates).await? {
            return Ok(vec![channel]);
        }
    }
    // Every other team is asked at once.
    let lookups = teams
        .iter()
        .filter(|t| t.id != current_team)
        .map(|team| channel_in(ctx, team, &candidates));
    let mut found: Vec<Channel> = Vec::new();
    for result in futures_util::future::join_all(lookups).await {
        // A direct or group channel (no team) is found under every team: once is enough.
        if let Some(channel) = result?.filter(|c| found.iter().all(|f| f.id != c.id)) {
            found.push(channel);
        }
    }
    if found.is_empty() {
        // A received channel sharebot knows, by its display name.
        let known = ctx.store.request_by_channel_name(text).await?;
        if let Some(request) = known {
            if let Ok(c) = ctx.client.get_channel(&request.channel_id).await {
                if c.delete_at == 0 {
                    found.push(c);
                }
            }
        }
    }
    Ok(found)
}

/// Every channel a reference could mean (none, one, or one per team), for callers that choose
/// among them themselves (`info` keeps only those the asker may see).
pub async fn candidates(
    ctx: &Context,
    reference: &ChannelRef,
    current_team: &str,
) -> Result<Vec<Channel>, CommandError> {
    match reference {
        ChannelRef::Link { team, channel } => match ctx.client.channel_by_name(team, channel).await
        {
            Ok(c) => Ok(vec![c]),
            Err(e) if e.is_not_found() || e.status() == Some(403) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        },
        ChannelRef::Name(text) => {
            let teams = all_teams(ctx).await?;
            named(
                ctx,
                &teams,
                text.trim().trim_start_matches('~'),
                current_team,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_read_as_a_list() {
        let l = |items: &[&str]| or_list(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["`a/x`"]), "`a/x`");
        assert_eq!(l(&["`a/x`", "`b/x`"]), "`a/x` or `b/x`");
        assert_eq!(l(&["`a/x`", "`b/x`", "`c/x`"]), "`a/x`, `b/x` or `c/x`");
    }

    #[test]
    fn display_names_become_likely_names() {
        assert_eq!(name_from_display("Launch plan"), "launch-plan");
        assert_eq!(name_from_display("  Q3 — Roadmap!! "), "q3-roadmap");
        assert_eq!(name_from_display("town-square"), "town-square");
        assert_eq!(name_from_display("---"), "");
    }

    #[test]
    fn connections_match_by_name_then_display_name() {
        let rc = |name: &str, display: &str| RemoteCluster {
            name: name.into(),
            display_name: display.into(),
            ..RemoteCluster::default()
        };
        let all = vec![rc("org-b", "Org B"), rc("org-c", "org-b")];
        assert_eq!(find_connection(&all, "ORG-B").unwrap().name, "org-b");
        assert_eq!(find_connection(&all, "org b").unwrap().name, "org-b");
        assert!(find_connection(&all, "org-d").is_none());
    }
}
