//! The server's rules for joining a team: allowed email domains, the member limit, and a
//! group-constrained team (`app/teams/teams.go` `JoinUserToTeam`, `app/teams/utils.go`
//! `IsTeamEmailAllowed`, `api4/team.go` `addTeamMember`).

use super::super::error::AppError;
use super::super::model::{Team, User};
use super::super::state::Db;

/// `normalizeDomains`: commas and `@` are optional separators, case does not matter.
pub(crate) fn normalize_domains(domains: &str) -> Vec<String> {
    domains
        .to_lowercase()
        .replace(['@', ','], " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `IsEmailAddressAllowed`: every non-empty restriction must match the address's domain.
fn email_allowed(email: &str, restrictions: &[&str]) -> bool {
    let email = email.to_lowercase();
    restrictions.iter().all(|restriction| {
        let domains = normalize_domains(restriction);
        domains.is_empty() || domains.iter().any(|d| email.ends_with(&format!("@{d}")))
    })
}

/// `api.team.add_members.user_denied`: the sandbox has no groups, so nobody is in a group
/// synced to a group-constrained team.
pub(crate) fn group_denied() -> AppError {
    AppError::new(
        400,
        "api.team.add_members.user_denied",
        "This team is managed by groups.  This user is not in a group that is synced to this team.",
    )
}

impl Db {
    /// Members counted against `TeamSettings.MaxUsersPerTeam`: live memberships of accounts
    /// that are not deactivated (bots count).
    pub fn active_member_count(&self, team_id: &str) -> usize {
        self.team_members
            .values()
            .filter(|m| m.team_id == team_id && m.delete_at == 0)
            .filter(|m| self.user(&m.user_id).is_some_and(|u| u.delete_at == 0))
            .count()
    }

    /// What `JoinUserToTeam` refuses. The email rule comes first and applies to existing
    /// members too; bots are exempt from it, guests answer to the guest setting (not modelled:
    /// allowed). Synced remote users have a random email (no `@`), so any domain rule refuses
    /// them. The member limit applies only to someone not yet (or no longer) a member.
    pub fn check_team_join(&self, team: &Team, user: &User) -> Result<(), AppError> {
        let guest = user.roles.split_whitespace().any(|r| r == "system_guest");
        if !user.is_bot
            && !guest
            && !email_allowed(
                &user.email,
                &[
                    &team.allowed_domains,
                    &self.config.team_settings.restrict_creation_to_domains,
                ],
            )
        {
            return Err(AppError::new(
                400,
                "api.team.join_user_to_team.allowed_domains.app_error",
                "Email must be from a specific domain (e.g. @example.com). Please ask your System Administrator for details.",
            ));
        }
        let existing = self.team_members.get(&(team.id.clone(), user.id.clone()));
        if existing.is_some_and(|m| m.delete_at == 0) {
            return Ok(());
        }
        let max = self.config.team_settings.max_users_per_team;
        if max >= 0 && self.active_member_count(&team.id) as i64 + 1 > max {
            // A new member fails in the store's limit check; a removed one coming back in
            // `JoinUserToTeam`'s own count, under another id.
            let id = if existing.is_some() {
                "app.team.join_user_to_team.max_accounts.app_error"
            } else {
                "app.team.join_user_to_team.save_member.max_accounts.app_error"
            };
            return Err(AppError::new(
                400,
                id,
                "This team has reached the maximum number of allowed accounts. Contact your System Administrator to set a higher limit.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_and_every_restriction_must_match() {
        assert_eq!(
            normalize_domains("@Corp.example.com, example.com  example.org"),
            ["corp.example.com", "example.com", "example.org"]
        );
        assert!(email_allowed("a@example.com", &["example.com", ""]));
        assert!(email_allowed("A@EXAMPLE.com", &["@example.com"]));
        assert!(!email_allowed(
            "a@example.com",
            &["example.com", "other.org"]
        ));
        assert!(!email_allowed(
            "x4kz1d8gq7bq3rfeh1o3wd5t8e",
            &["example.com"]
        ));
        assert!(email_allowed("x4kz1d8gq7bq3rfeh1o3wd5t8e", &["", " , "]));
    }
}
