//! Team admins deciding for their own team (`review.team_admins`): who they are, asked of the
//! server (a live team membership with `scheme_admin`), and which teams each may accept into.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mattermost::models::{Team, User};

use super::context::Context;
use super::ReviewError;

/// How long the list of a team's admins (who get its DMs) is reused between passes. Clicks
/// never use it: a click asks the server.
const ADMIN_LIST_TTL: Duration = Duration::from_secs(10);

/// Each team's admins as last read, by team id.
#[derive(Default)]
pub struct TeamAdminLists(Mutex<HashMap<String, (Vec<User>, Instant)>>);

impl Context {
    /// The team a request is for, when team admins may decide it: its suggested team (set by
    /// a rule or the request), among the teams a channel can be placed in.
    pub fn team_of_request<'a>(
        &self,
        suggested: Option<&str>,
        teams: &'a [Team],
    ) -> Option<&'a Team> {
        if !self.config.team_admins {
            return None;
        }
        super::context::find_team(teams, suggested)
    }

    /// The active human admins of `team_id` (who get the DM of a request for that team).
    pub async fn team_admins_of(&self, team_id: &str) -> Result<Vec<User>, ReviewError> {
        if let Some((users, at)) = lock(&self.team_admin_lists.0).get(team_id) {
            if at.elapsed() < ADMIN_LIST_TTL {
                return Ok(users.clone());
            }
        }
        let ids: Vec<String> = self
            .client
            .active_team_members(team_id)
            .await?
            .into_iter()
            .filter(|m| m.delete_at == 0 && m.scheme_admin)
            .map(|m| m.user_id)
            .collect();
        let users: Vec<User> = self
            .client
            .users_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|u| u.is_active() && !u.is_bot)
            .collect();
        lock(&self.team_admin_lists.0).insert(team_id.to_string(), (users.clone(), Instant::now()));
        Ok(users)
    }

    /// Whether `user_id` is, now, an active human admin of team `team_id` (asked of the
    /// server every time: a revoked team role stops the very next click).
    pub async fn is_team_admin_now(
        &self,
        user_id: &str,
        team_id: &str,
    ) -> Result<bool, ReviewError> {
        if !self.config.team_admins {
            return Ok(false);
        }
        let (user, member) = tokio::join!(
            self.client.get_user(user_id),
            self.client.team_member(team_id, user_id)
        );
        let user = match user {
            Ok(u) => u,
            Err(e) if e.is_not_found() || e.status() == Some(400) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let member = match member {
            Ok(m) => m,
            Err(e) if e.is_not_found() || e.status() == Some(400) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(user.is_active() && !user.is_bot && member.delete_at == 0 && member.scheme_admin)
    }

    /// Among `teams`, those `user_id` administers now.
    pub async fn teams_administered(
        &self,
        user_id: &str,
        teams: &[Team],
    ) -> Result<Vec<Team>, ReviewError> {
        if !self.config.team_admins {
            return Ok(Vec::new());
        }
        let theirs = self.client.teams_of_user(user_id).await?;
        let candidates: Vec<&Team> = teams
            .iter()
            .filter(|t| theirs.iter().any(|x| x.id == t.id))
            .collect();
        let checks = candidates
            .iter()
            .map(|t| self.client.team_member(&t.id, user_id));
        let members = futures_util::future::join_all(checks).await;
        Ok(candidates
            .into_iter()
            .zip(members)
            .filter(|(_, m)| m.as_ref().is_ok_and(|m| m.delete_at == 0 && m.scheme_admin))
            .map(|(t, _)| t.clone())
            .collect())
    }

    /// The teams `recipient`'s menu lists: every team for an approver, only the teams they
    /// administer for a team admin (someone not on the last-read approver list).
    pub async fn menu_teams(
        &self,
        recipient: &str,
        teams: &[Team],
    ) -> Result<Vec<Team>, ReviewError> {
        if !self.config.team_admins
            || self.listed_approver(recipient)
            || self.is_admin_now(recipient).await?
        {
            return Ok(teams.to_vec());
        }
        self.teams_administered(recipient, teams).await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
