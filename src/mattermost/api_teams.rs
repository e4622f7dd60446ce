//! Endpoints for teams: listing and reading them, membership, creating one.

use reqwest::Method;
use serde_json::json;

use super::api_users::PAGE_SIZE;
use super::client::{Client, Idempotency, Request};
use super::error::Result;
use super::models::{Team, TeamMember, TeamSettings};
use super::route::{validate_id, Route};

impl Client {
    /// Every team the bot can see (`GET /teams`, all pages).
    pub async fn teams(&self) -> Result<Vec<Team>> {
        self.all_pages(|page| {
            Request::get(Route::fixed("/api/v4/teams"))
                .query("per_page", PAGE_SIZE)
                .query("page", page)
        })
        .await
    }

    /// The teams `user_id` belongs to (`GET /users/{user_id}/teams`).
    pub async fn teams_of_user(&self, user_id: &str) -> Result<Vec<Team>> {
        self.json(Request::get(Route::new(
            "/api/v4/users/{user_id}/teams",
            &[user_id],
        )?))
        .await
    }

    /// `GET /teams/name/{team_name}` (the spec writes `{name}`; the label follows the server's
    /// router, which names the segment `{team_name}` under every `/teams/name/` route).
    pub async fn team_by_name(&self, team_name: &str) -> Result<Team> {
        self.json(Request::get(Route::new(
            "/api/v4/teams/name/{team_name}",
            &[team_name],
        )?))
        .await
    }

    /// `GET /teams/{team_id}`.
    pub async fn get_team(&self, team_id: &str) -> Result<Team> {
        self.json(Request::get(Route::new(
            "/api/v4/teams/{team_id}",
            &[team_id],
        )?))
        .await
    }

    /// `POST /teams/{team_id}/members`: adding an existing member is harmless, so it is retried.
    pub async fn add_team_member(&self, team_id: &str, user_id: &str) -> Result<TeamMember> {
        validate_id("user_id", user_id)?;
        let request = Request::new(
            Method::POST,
            Route::new("/api/v4/teams/{team_id}/members", &[team_id])?,
            Idempotency::Idempotent,
        )
        .json(&json!({ "team_id": team_id, "user_id": user_id }))?;
        self.json(request).await
    }

    /// The live members of a team whose accounts are not deactivated
    /// (`GET /teams/{team_id}/members?exclude_deleted_users=true`, all pages).
    pub async fn active_team_members(&self, team_id: &str) -> Result<Vec<TeamMember>> {
        let route = Route::new("/api/v4/teams/{team_id}/members", &[team_id])?;
        self.all_pages(|page| {
            Request::get(route.clone())
                .query("exclude_deleted_users", "true")
                .query("per_page", PAGE_SIZE)
                .query("page", page)
        })
        .await
    }

    /// The server's `TeamSettings` (`GET /config`; needs `manage_system`).
    pub async fn team_settings(&self) -> Result<TeamSettings> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "PascalCase")]
        struct Config {
            team_settings: TeamSettings,
        }
        let config: Config = self
            .json(Request::get(Route::fixed("/api/v4/config")))
            .await?;
        Ok(config.team_settings)
    }

    /// The organization's name as people see it: `SiteName` (`TeamSettings.SiteName`) of
    /// `GET /config/client?format=old`, which anyone may read.
    pub async fn site_name(&self) -> Result<String> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct ClientConfig {
            #[serde(rename = "SiteName")]
            site_name: String,
        }
        let config: ClientConfig = self
            .json(Request::get(Route::fixed("/api/v4/config/client")).query("format", "old"))
            .await?;
        Ok(config.site_name)
    }

    /// `GET /teams/{team_id}/members/{user_id}`: 404 when the user is not a member.
    pub async fn team_member(&self, team_id: &str, user_id: &str) -> Result<TeamMember> {
        self.json(Request::get(Route::new(
            "/api/v4/teams/{team_id}/members/{user_id}",
            &[team_id, user_id],
        )?))
        .await
    }

    /// `POST /teams` (201): a new team, invite-only (`I`) or open (`O`). Not retried after a
    /// 5xx: the first attempt may have created it.
    pub async fn create_team(
        &self,
        name: &str,
        display_name: &str,
        invite_only: bool,
    ) -> Result<Team> {
        let body = json!({
            "name": name,
            "display_name": display_name,
            "type": if invite_only { "I" } else { "O" },
        });
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/teams"),
            Idempotency::NotIdempotent,
        )
        .json(&body)?;
        self.json(request).await
    }
}
