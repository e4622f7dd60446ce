//! Endpoints for users: the bot itself, lookups by id or name, the system admins.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::client::{Client, Idempotency, Request};
use super::error::Result;
use super::models::User;
use super::route::{validate_id, Route};

/// Page size for list endpoints that the bot reads to the end (the server's maximum is 200).
pub(crate) const PAGE_SIZE: u32 = 200;
/// Guard against a server that never returns a short page.
const MAX_PAGES: u32 = 500;

impl Client {
    /// `GET /users/me`: the bot's own user (its id is needed to recognise its own posts).
    pub async fn me(&self) -> Result<User> {
        self.json(Request::get(Route::fixed("/api/v4/users/me")))
            .await
    }

    /// `GET /users/{user_id}`.
    pub async fn get_user(&self, user_id: &str) -> Result<User> {
        self.json(Request::get(Route::new(
            "/api/v4/users/{user_id}",
            &[user_id],
        )?))
        .await
    }

    /// `PrivacySettings.ShowFullName` of `GET /config` (the bot is a system admin, so the
    /// server shows it every full name; people without `manage_system` see them only when
    /// this is on).
    pub async fn shows_full_names(&self) -> Result<bool> {
        let config: serde_json::Value = self
            .json(Request::get(Route::fixed("/api/v4/config")))
            .await?;
        Ok(config["PrivacySettings"]["ShowFullName"]
            .as_bool()
            .unwrap_or(false))
    }

    /// `POST /users/ids`: several users in one call (a read, so it is retried).
    pub async fn users_by_ids(&self, user_ids: &[String]) -> Result<Vec<User>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        for id in user_ids {
            validate_id("user_id", id)?;
        }
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/users/ids"),
            Idempotency::Idempotent,
        )
        .json(&user_ids)?;
        self.json(request).await
    }

    /// The user called `username` through `POST /users/usernames`, which takes any name
    /// (a remote user's `name:remote` does not fit the `username/{username}` route). `None`
    /// when there is no such user.
    pub async fn find_username(&self, username: &str) -> Result<Option<User>> {
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/users/usernames"),
            Idempotency::Idempotent,
        )
        .json(&[username])?;
        let users: Vec<User> = self.json(request).await?;
        Ok(users.into_iter().find(|u| u.username == username))
    }

    /// `GET /users/username/{username}`.
    pub async fn user_by_username(&self, username: &str) -> Result<User> {
        let username = username.trim_start_matches('@');
        self.json(Request::get(Route::new(
            "/api/v4/users/username/{username}",
            &[username],
        )?))
        .await
    }

    /// Every active system admin, read page by page
    /// (`GET /users?role=system_admin&active=true&per_page=200&page=n`).
    pub async fn list_system_admins(&self) -> Result<Vec<User>> {
        self.users_in_role("system_admin").await
    }

    /// Every active holder of the system role `role`, read page by page
    /// (`GET /users?role={role}&active=true&per_page=200&page=n`).
    pub async fn users_in_role(&self, role: &str) -> Result<Vec<User>> {
        self.all_pages(|page| {
            Request::get(Route::fixed("/api/v4/users"))
                .query("role", role)
                .query("active", "true")
                .query("per_page", PAGE_SIZE)
                .query("page", page)
        })
        .await
    }

    /// The active users in a channel, read page by page
    /// (`GET /users?in_channel={channel_id}&active=true&per_page=200&page=n`): the members and
    /// their deactivation in one round trip. Older servers ignored `active` beside
    /// `in_channel`, so callers still check [`User::is_active`].
    pub async fn active_users_in_channel(&self, channel_id: &str) -> Result<Vec<User>> {
        validate_id("channel_id", channel_id)?;
        self.all_pages(|page| {
            Request::get(Route::fixed("/api/v4/users"))
                .query("in_channel", channel_id)
                .query("active", "true")
                .query("per_page", PAGE_SIZE)
                .query("page", page)
        })
        .await
    }

    /// Reads a paged list to its end: requests page 0, 1, … until a page is shorter than
    /// [`PAGE_SIZE`].
    pub(crate) async fn all_pages<T: DeserializeOwned>(
        &self,
        request: impl Fn(u32) -> Request,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let items: Vec<T> = self.json(request(page)).await?;
            let short = items.len() < PAGE_SIZE as usize;
            all.extend(items);
            if short {
                break;
            }
        }
        Ok(all)
    }
}
