//! Whether the server will let a channel's people into a destination team, checked before
//! anything is added: an archived team, a group-constrained team, allowed email domains (the
//! team's and `TeamSettings.RestrictCreationToDomains`) and `TeamSettings.MaxUsersPerTeam`,
//! as the server's `JoinUserToTeam` and `addTeamMember` apply them.

use std::collections::HashSet;

use crate::mattermost::models::{Team, TeamSettings, User};
use crate::mattermost::Client;

use super::ReviewError;

/// How many usernames a refusal names before "and N more".
const NAMED: usize = 3;

/// The destination team as the server's join rules need it: the team, its active members and
/// the server's `TeamSettings`, read together (one round trip) and only depending on the team,
/// so they are read beside the channel and its members.
pub struct Destination {
    team: Team,
    /// The user ids of the team's active members.
    members: HashSet<String>,
    settings: TeamSettings,
}

impl Destination {
    /// Reads team `team_id`, its active members and the server's `TeamSettings` at once.
    pub async fn read(client: &Client, team_id: &str) -> Result<Destination, ReviewError> {
        let (team, members, settings) = tokio::join!(
            client.get_team(team_id),
            client.active_team_members(team_id),
            client.team_settings()
        );
        let team = team?;
        let members = if team.delete_at != 0 {
            // Refused below before the members matter.
            HashSet::new()
        } else {
            members?.into_iter().map(|m| m.user_id).collect()
        };
        // Only a system admin may read the configuration; without it the server's own answer
        // to the adds still stops the move.
        let settings = settings.unwrap_or_else(|err| {
            tracing::debug!(
                "cannot read TeamSettings (the server's own checks still apply): {err}"
            );
            TeamSettings {
                max_users_per_team: -1,
                restrict_creation_to_domains: String::new(),
            }
        });
        Ok(Destination {
            team,
            members,
            settings,
        })
    }

    /// The user ids of the team's active members when it was read.
    pub fn members(&self) -> &HashSet<String> {
        &self.members
    }

    /// The active users among `users` who are not members of the team yet, once the server's
    /// rules say every one of them may join; otherwise the rule that stops it, in words for
    /// the admin (with what an admin can do).
    pub fn newcomers<'a>(&self, users: &'a [User]) -> Result<Vec<&'a User>, ReviewError> {
        let team = &self.team;
        if team.delete_at != 0 {
            return Err(ReviewError::Refused(format!(
                "**{}** is archived and can no longer receive channels; pick another team (a system admin can restore it in the System Console)",
                team.display_name
            )));
        }
        let newcomers: Vec<&User> = users
            .iter()
            .filter(|u| u.is_active() && !self.members.contains(u.id.as_str()))
            .collect();
        if newcomers.is_empty() {
            return Ok(newcomers);
        }
        refusal(team, self.members.len(), &newcomers, &self.settings)
            .map_or(Ok(newcomers), |why| Err(ReviewError::Refused(why)))
    }
}

/// The first rule that refuses `newcomers` into `team` (which has `count` members).
fn refusal(
    team: &Team,
    count: usize,
    newcomers: &[&User],
    settings: &TeamSettings,
) -> Option<String> {
    let name = &team.display_name;
    if team.group_constrained == Some(true) {
        return Some(format!(
            "**{name}** is managed by groups and {} not in a group synced to it; a system admin can turn off group management for the team (System Console › User Management › Teams), or pick another team",
            who(newcomers.iter().copied())
        ));
    }
    for (domains, whose, fix) in [
        (
            team.allowed_domains.as_str(),
            "the team's allowed domains",
            "a team admin can clear them (Team Settings › Access)",
        ),
        (
            settings.restrict_creation_to_domains.as_str(),
            "the server's `TeamSettings.RestrictCreationToDomains`",
            "a system admin can clear it (System Console › Users and Teams)",
        ),
    ] {
        let allowed = normalize_domains(domains);
        if allowed.is_empty() {
            continue;
        }
        let refused: Vec<&User> = newcomers
            .iter()
            .copied()
            .filter(|u| !u.is_bot && !is_guest(u) && !email_allowed(&u.email, &allowed))
            .collect();
        if !refused.is_empty() {
            let remote = if refused
                .iter()
                .any(|u| u.remote_id.as_deref().is_some_and(|r| !r.is_empty()))
            {
                " (people from another organization have no real email address on this server)"
            } else {
                ""
            };
            return Some(format!(
                "**{name}** accepts only email addresses at {} ({whose}) and {} not{remote}; {fix}, or pick another team",
                allowed.join(", "),
                who(refused.into_iter())
            ));
        }
    }
    let max = settings.max_users_per_team;
    if max >= 0 && (count + newcomers.len()) as i64 > max {
        return Some(format!(
            "**{name}** has {count} members and the channel would add {}, over the server's limit of {max} (`TeamSettings.MaxUsersPerTeam`); a system admin can raise Max Users Per Team (System Console › Users and Teams), or pick another team",
            newcomers.len()
        ));
    }
    None
}

/// "@a, @b and 3 more are" / "@a is".
fn who<'a>(users: impl Iterator<Item = &'a User>) -> String {
    let names: Vec<String> = users.map(|u| format!("@{}", u.username)).collect();
    let verb = if names.len() == 1 { "is" } else { "are" };
    let shown = names
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED {
        format!("{shown} and {} more {verb}", names.len() - NAMED)
    } else {
        format!("{shown} {verb}")
    }
}

fn is_guest(user: &User) -> bool {
    user.roles.split_whitespace().any(|r| r == "system_guest")
}

/// The server's `normalizeDomains`: `@` and commas are optional separators.
fn normalize_domains(domains: &str) -> Vec<String> {
    domains
        .to_lowercase()
        .replace(['@', ','], " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn email_allowed(email: &str, domains: &[String]) -> bool {
    let email = email.to_lowercase();
    domains.iter().any(|d| email.ends_with(&format!("@{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: &str) -> User {
        User {
            id: name.into(),
            username: name.into(),
            email: email.into(),
            ..User::default()
        }
    }

    #[test]
    fn each_rule_names_who_it_stops_and_what_an_admin_can_do() {
        let team = Team {
            display_name: "Marketing".into(),
            allowed_domains: "@Example.com, corp.example".into(),
            ..Team::default()
        };
        let local = user("ann", "ann@example.com");
        let remote = User {
            remote_id: Some("r1".into()),
            ..user("bob:org-a", "x4kz1d8gq7bq3rfeh1o3wd5t8e")
        };
        let bot = User {
            is_bot: true,
            ..user("helper", "")
        };
        let settings = TeamSettings::default();
        let why = refusal(&team, 3, &[&local, &remote, &bot], &settings).unwrap();
        assert!(why.contains("example.com, corp.example"), "{why}");
        assert!(why.contains("@bob:org-a is not"), "{why}");
        assert!(!why.contains("@ann") && !why.contains("@helper"), "{why}");
        assert!(why.contains("another organization"), "{why}");
        let open = Team {
            allowed_domains: String::new(),
            ..team.clone()
        };
        assert_eq!(refusal(&open, 48, &[&local, &remote], &settings), None);
        let full = refusal(&open, 49, &[&local, &remote], &settings).unwrap();
        assert!(full.contains("limit of 50"), "{full}");
        let grouped = Team {
            group_constrained: Some(true),
            ..open
        };
        assert!(refusal(&grouped, 1, &[&local], &settings)
            .unwrap()
            .contains("managed by groups"));
    }
}
