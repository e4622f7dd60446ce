//! Endpoints for channels, posts and interactive dialogs.

use reqwest::Method;
use serde_json::json;

use super::api_users::PAGE_SIZE;
use super::client::{Client, Idempotency, Request};
use super::error::Result;
use super::models::{
    Channel, ChannelMember, EphemeralPost, NewChannel, OpenDialogRequest, Post, PostList, PostPatch,
};
use super::route::{validate_id, Route};

/// Which posts of a channel to read (`GET /channels/{id}/posts`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelPostsQuery {
    /// Only posts created or changed after this time (ms); paging is ignored by the server then.
    pub since: Option<i64>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl Client {
    /// `GET /channels/{channel_id}`: the channel as it is now (its real team, `shared` flag…).
    pub async fn get_channel(&self, channel_id: &str) -> Result<Channel> {
        self.json(Request::get(Route::new(
            "/api/v4/channels/{channel_id}",
            &[channel_id],
        )?))
        .await
    }

    /// `GET /users/me/channels`: every channel the bot is a member of, in every team, with its
    /// direct and group channels (the server sends the whole list, unpaged).
    pub async fn my_channels(&self) -> Result<Vec<Channel>> {
        self.json(Request::get(Route::new(
            "/api/v4/users/{user_id}/channels",
            &["me"],
        )?))
        .await
    }

    /// `GET /users/{user_id}/channels?include_deleted=true`: every channel `user_id` is a
    /// member of, archived ones included (the bot reads another user's as a system admin).
    pub async fn user_channels_with_archived(&self, user_id: &str) -> Result<Vec<Channel>> {
        validate_id("user_id", user_id)?;
        self.json(
            Request::get(Route::new("/api/v4/users/{user_id}/channels", &[user_id])?)
                .query("include_deleted", "true"),
        )
        .await
    }

    /// `GET /teams/name/{team_name}/channels/name/{channel_name}`.
    pub async fn channel_by_name(&self, team_name: &str, channel_name: &str) -> Result<Channel> {
        let channel_name = channel_name.trim_start_matches('~');
        self.json(Request::get(Route::new(
            "/api/v4/teams/name/{team_name}/channels/name/{channel_name}",
            &[team_name, channel_name],
        )?))
        .await
    }

    /// `POST /channels` (201). Not retried after a 5xx: the first attempt may have created it.
    pub async fn create_channel(&self, channel: &NewChannel) -> Result<Channel> {
        validate_id("team_id", &channel.team_id)?;
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/channels"),
            Idempotency::NotIdempotent,
        )
        .json(channel)?;
        self.json(request).await
    }

    /// `POST /channels/direct` with `[user_a, user_b]`: the DM channel, created or existing
    /// (so it is retried).
    pub async fn create_direct_channel(&self, user_a: &str, user_b: &str) -> Result<Channel> {
        validate_id("user_id", user_a)?;
        validate_id("user_id", user_b)?;
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/channels/direct"),
            Idempotency::Idempotent,
        )
        .json(&[user_a, user_b])?;
        self.json(request).await
    }

    /// `POST /channels/{channel_id}/members`; adding a member twice is harmless.
    pub async fn add_channel_member(
        &self,
        channel_id: &str,
        user_id: &str,
    ) -> Result<ChannelMember> {
        validate_id("user_id", user_id)?;
        let request = Request::new(
            Method::POST,
            Route::new("/api/v4/channels/{channel_id}/members", &[channel_id])?,
            Idempotency::Idempotent,
        )
        .json(&json!({ "user_id": user_id }))?;
        self.json(request).await
    }

    /// `GET /channels/{channel_id}/members/{user_id}`: 404 when the user is not a member.
    pub async fn channel_member(&self, channel_id: &str, user_id: &str) -> Result<ChannelMember> {
        self.json(Request::get(Route::new(
            "/api/v4/channels/{channel_id}/members/{user_id}",
            &[channel_id, user_id],
        )?))
        .await
    }

    /// Every member of a channel (`GET /channels/{channel_id}/members`, all pages).
    pub async fn channel_members(&self, channel_id: &str) -> Result<Vec<ChannelMember>> {
        let route = Route::new("/api/v4/channels/{channel_id}/members", &[channel_id])?;
        self.all_pages(|page| {
            Request::get(route.clone())
                .query("per_page", PAGE_SIZE)
                .query("page", page)
        })
        .await
    }

    /// `DELETE /channels/{channel_id}`: archives the channel.
    pub async fn archive_channel(&self, channel_id: &str) -> Result<()> {
        let request = Request::new(
            Method::DELETE,
            Route::new("/api/v4/channels/{channel_id}", &[channel_id])?,
            Idempotency::Idempotent,
        );
        self.empty(request).await.map(drop)
    }

    /// `POST /channels/{channel_id}/move` `{team_id, force}`. `force` removes members who are
    /// not in the destination team; without it such a move fails with a 500
    /// (`app.channel.move_channel.members_do_not_match.error`). Not retried: read the channel
    /// to learn whether a failed attempt moved it.
    pub async fn move_channel(
        &self,
        channel_id: &str,
        team_id: &str,
        force: bool,
    ) -> Result<Channel> {
        validate_id("team_id", team_id)?;
        let request = Request::new(
            Method::POST,
            Route::new("/api/v4/channels/{channel_id}/move", &[channel_id])?,
            Idempotency::NotIdempotent,
        )
        .json(&json!({ "team_id": team_id, "force": force }))?;
        self.json(request).await
    }

    /// `POST /posts` (201). Never retried after a 5xx or timeout: that could post twice.
    pub async fn create_post(&self, post: &Post) -> Result<Post> {
        validate_id("channel_id", &post.channel_id)?;
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/posts"),
            Idempotency::NotIdempotent,
        )
        .json(post)?;
        self.json(request).await
    }

    /// `GET /posts/{post_id}`.
    pub async fn get_post(&self, post_id: &str) -> Result<Post> {
        self.json(Request::get(Route::new(
            "/api/v4/posts/{post_id}",
            &[post_id],
        )?))
        .await
    }

    /// `DELETE /posts/{post_id}`: deletes a post (the caller's own, or any with
    /// `delete_others_posts`); in a shared channel the deletion syncs to the other servers.
    pub async fn delete_post(&self, post_id: &str) -> Result<()> {
        let request = Request::new(
            Method::DELETE,
            Route::new("/api/v4/posts/{post_id}", &[post_id])?,
            Idempotency::Idempotent,
        );
        self.empty(request).await.map(drop)
    }

    /// `PUT /posts/{post_id}/patch`: changes only the given fields; safe to repeat.
    pub async fn patch_post(&self, post_id: &str, patch: &PostPatch) -> Result<Post> {
        let request = Request::new(
            Method::PUT,
            Route::new("/api/v4/posts/{post_id}/patch", &[post_id])?,
            Idempotency::Idempotent,
        )
        .json(patch)?;
        self.json(request).await
    }

    /// `PUT /posts/{post_id}` with the whole post (its `id` must be set); safe to repeat.
    pub async fn update_post(&self, post: &Post) -> Result<Post> {
        let request = Request::new(
            Method::PUT,
            Route::new("/api/v4/posts/{post_id}", &[&post.id])?,
            Idempotency::Idempotent,
        )
        .json(post)?;
        self.json(request).await
    }

    /// `POST /posts/ephemeral` `{user_id, post}`: a message only `user_id` sees. Not retried
    /// after a 5xx (it could show twice).
    pub async fn create_ephemeral_post(&self, user_id: &str, post: &Post) -> Result<Post> {
        validate_id("user_id", user_id)?;
        validate_id("channel_id", &post.channel_id)?;
        let body = EphemeralPost {
            user_id: user_id.to_owned(),
            post: post.clone(),
        };
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/posts/ephemeral"),
            Idempotency::NotIdempotent,
        )
        .json(&body)?;
        self.json(request).await
    }

    /// `GET /channels/{channel_id}/posts`.
    pub async fn channel_posts(
        &self,
        channel_id: &str,
        query: &ChannelPostsQuery,
    ) -> Result<PostList> {
        let request = Request::get(Route::new(
            "/api/v4/channels/{channel_id}/posts",
            &[channel_id],
        )?)
        .opt("since", query.since)
        .opt("page", query.page)
        .opt("per_page", query.per_page);
        self.json(request).await
    }

    /// `POST /actions/dialogs/open`: shows a dialog to the user whose click issued `trigger_id`.
    /// Not retried (the trigger is single-use and short-lived).
    pub async fn open_dialog(&self, request: &OpenDialogRequest) -> Result<()> {
        if request.trigger_id.is_empty() {
            return Err(super::error::Error::InvalidInput(
                "a dialog needs the trigger_id of a click".into(),
            ));
        }
        // The server opens an invalid dialog anyway and only logs it on its side.
        for problem in request.dialog.problems() {
            tracing::warn!(dialog = %request.dialog.callback_id, "the dialog breaks a server limit: {problem}");
        }
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/actions/dialogs/open"),
            Idempotency::NotIdempotent,
        )
        .json(request)?;
        self.empty(request).await.map(drop)
    }
}
