//! Endpoints the bot uses at start-up to check (or create) its admin channel and inbox team.

use reqwest::Method;
use serde_json::json;

use super::client::{Client, Idempotency, Request};
use super::error::Result;
use super::models::{ChannelMember, Team, TeamMember};
use super::route::Route;

impl Client {
    /// `GET /teams/{team_id}/members/{user_id}`: 404 when the user is not a member.
    pub async fn team_member(&self, team_id: &str, user_id: &str) -> Result<TeamMember> {
        self.json(Request::get(Route::new(
            "/api/v4/teams/{team_id}/members/{user_id}",
            &[team_id, user_id],
        )?))
        .await
    }

    /// `GET /channels/{channel_id}/members/{user_id}`: 404 when the user is not a member.
    pub async fn channel_member(&self, channel_id: &str, user_id: &str) -> Result<ChannelMember> {
        self.json(Request::get(Route::new(
            "/api/v4/channels/{channel_id}/members/{user_id}",
            &[channel_id, user_id],
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
