//! Endpoints for secure connections (remote clusters) and shared channels.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::api_users::PAGE_SIZE;
use super::client::{Client, Idempotency, Request};
use super::error::{Error, Result};
use super::models::{
    AcceptInvite, NewRemoteCluster, RemoteCluster, RemoteClusterFilter, RemoteClusterInfo,
    RemoteClusterPatch, RemoteClusterWithInvite, SharedChannel, SharedChannelRemote,
    SharedChannelRemoteFilter,
};
use super::route::{validate_id, Route};

impl Client {
    /// `GET /remotecluster` with the filter's query. With `filter.page` unset, every page is
    /// read (200 at a time) and `per_page` is ignored.
    pub async fn list_remote_clusters(
        &self,
        filter: &RemoteClusterFilter,
    ) -> Result<Vec<RemoteCluster>> {
        for id in [&filter.in_channel, &filter.not_in_channel]
            .into_iter()
            .flatten()
        {
            validate_id("channel_id", id)?;
        }
        let request = |page: u32, per_page: u32| {
            Request::get(Route::fixed("/api/v4/remotecluster"))
                .query("page", page)
                .query("per_page", per_page)
                .flag("exclude_offline", filter.exclude_offline)
                .opt("in_channel", filter.in_channel.as_deref())
                .opt("not_in_channel", filter.not_in_channel.as_deref())
                .flag("only_confirmed", filter.only_confirmed)
                .flag("only_plugins", filter.only_plugins)
                .flag("exclude_plugins", filter.exclude_plugins)
                .flag("include_deleted", filter.include_deleted)
        };
        match filter.page {
            Some(page) => {
                self.json(request(page, filter.per_page.unwrap_or(PAGE_SIZE)))
                    .await
            }
            None => self.all_pages(|page| request(page, PAGE_SIZE)).await,
        }
    }

    /// `POST /remotecluster` (201): a new connection with its invite code (and the generated
    /// password when none was given). Not retried: it would create a second connection.
    pub async fn create_remote_cluster(
        &self,
        new: &NewRemoteCluster,
    ) -> Result<RemoteClusterWithInvite> {
        validate_id("default_team_id", &new.default_team_id)?;
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/remotecluster"),
            Idempotency::NotIdempotent,
        )
        .json(new)?;
        self.json(request).await
    }

    /// `GET /remotecluster/{remote_id}`.
    pub async fn get_remote_cluster(&self, remote_id: &str) -> Result<RemoteCluster> {
        self.json(Request::get(Route::new(
            "/api/v4/remotecluster/{remote_id}",
            &[remote_id],
        )?))
        .await
    }

    /// `PATCH /remotecluster/{remote_id}` (display name, default team).
    pub async fn patch_remote_cluster(
        &self,
        remote_id: &str,
        patch: &RemoteClusterPatch,
    ) -> Result<RemoteCluster> {
        if let Some(team) = &patch.default_team_id {
            validate_id("default_team_id", team)?;
        }
        let request = Request::new(
            Method::PATCH,
            Route::new("/api/v4/remotecluster/{remote_id}", &[remote_id])?,
            Idempotency::Idempotent,
        )
        .json(patch)?;
        self.json(request).await
    }

    /// `DELETE /remotecluster/{remote_id}` (204).
    pub async fn delete_remote_cluster(&self, remote_id: &str) -> Result<()> {
        let request = Request::new(
            Method::DELETE,
            Route::new("/api/v4/remotecluster/{remote_id}", &[remote_id])?,
            Idempotency::Idempotent,
        );
        self.empty(request).await.map(drop)
    }

    /// `POST /remotecluster/{remote_id}/generate_invite` `{password}` (201): a fresh invite code
    /// for a connection not yet accepted. A repeat only makes another valid code.
    pub async fn generate_invite(&self, remote_id: &str, password: &str) -> Result<String> {
        if password.is_empty() {
            return Err(Error::InvalidInput("an invite needs a password".into()));
        }
        let request = Request::new(
            Method::POST,
            Route::new(
                "/api/v4/remotecluster/{remote_id}/generate_invite",
                &[remote_id],
            )?,
            Idempotency::Idempotent,
        )
        .json(&json!({ "password": password }))?;
        self.json(request).await
    }

    /// `POST /remotecluster/accept_invite` (201): joins the connection another organization
    /// created. Not retried: the invite's token may be used once.
    pub async fn accept_invite(&self, accept: &AcceptInvite) -> Result<RemoteCluster> {
        validate_id("default_team_id", &accept.default_team_id)?;
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/remotecluster/accept_invite"),
            Idempotency::NotIdempotent,
        )
        .json(accept)?;
        self.json(request).await
    }

    /// `POST /remotecluster/{remote_id}/channels/{channel_id}/invite`: shares the channel with
    /// the remote; a repeat has no effect.
    pub async fn invite_remote_to_channel(&self, remote_id: &str, channel_id: &str) -> Result<()> {
        let request = Request::new(
            Method::POST,
            Route::new(
                "/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite",
                &[remote_id, channel_id],
            )?,
            Idempotency::Idempotent,
        );
        self.empty(request).await.map(drop)
    }

    /// `POST /remotecluster/{remote_id}/channels/{channel_id}/uninvite`: stops sharing the
    /// channel with the remote. Returns false when it was not shared with it (204).
    pub async fn uninvite_remote_from_channel(
        &self,
        remote_id: &str,
        channel_id: &str,
    ) -> Result<bool> {
        let request = Request::new(
            Method::POST,
            Route::new(
                "/api/v4/remotecluster/{remote_id}/channels/{channel_id}/uninvite",
                &[remote_id, channel_id],
            )?,
            Idempotency::Idempotent,
        );
        Ok(self.empty(request).await? != StatusCode::NO_CONTENT)
    }

    /// `GET /remotecluster/{remote_id}/sharedchannelremotes` with the filter's query. With
    /// `filter.page` unset, every page is read (200 at a time).
    pub async fn shared_channel_remotes(
        &self,
        remote_id: &str,
        filter: &SharedChannelRemoteFilter,
    ) -> Result<Vec<SharedChannelRemote>> {
        let route = Route::new(
            "/api/v4/remotecluster/{remote_id}/sharedchannelremotes",
            &[remote_id],
        )?;
        let request = |page: u32, per_page: u32| {
            Request::get(route.clone())
                .flag("include_unconfirmed", filter.include_unconfirmed)
                .flag("exclude_confirmed", filter.exclude_confirmed)
                .flag("exclude_home", filter.exclude_home)
                .flag("exclude_remote", filter.exclude_remote)
                .flag("include_deleted", filter.include_deleted)
                .query("page", page)
                .query("per_page", per_page)
        };
        match filter.page {
            Some(page) => {
                self.json(request(page, filter.per_page.unwrap_or(PAGE_SIZE)))
                    .await
            }
            None => self.all_pages(|page| request(page, PAGE_SIZE)).await,
        }
    }

    /// Every shared channel of a team (`GET /sharedchannels/{team_id}`, all pages). Its
    /// `team_id` is not updated by a move: read the channel for where it is now.
    pub async fn shared_channels_for_team(&self, team_id: &str) -> Result<Vec<SharedChannel>> {
        let route = Route::new("/api/v4/sharedchannels/{team_id}", &[team_id])?;
        self.all_pages(|page| {
            Request::get(route.clone())
                .query("page", page)
                .query("per_page", PAGE_SIZE)
        })
        .await
    }

    /// `GET /sharedchannels/remote_info/{remote_id}`: a connection's public facts.
    pub async fn remote_info(&self, remote_id: &str) -> Result<RemoteClusterInfo> {
        self.json(Request::get(Route::new(
            "/api/v4/sharedchannels/remote_info/{remote_id}",
            &[remote_id],
        )?))
        .await
    }

    /// `GET /sharedchannels/{channel_id}/remotes`: the organizations a channel is shared with
    /// (server 10.11+).
    pub async fn channel_remotes(&self, channel_id: &str) -> Result<Vec<RemoteClusterInfo>> {
        self.json(Request::get(Route::new(
            "/api/v4/sharedchannels/{channel_id}/remotes",
            &[channel_id],
        )?))
        .await
    }
}
