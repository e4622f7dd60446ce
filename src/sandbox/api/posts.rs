//! `/api/v4/posts…`: creating, reading, editing posts; ephemeral posts; a channel's posts.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::core::events::{self, PostedEvent};
use super::super::core::posts::send_ephemeral;
use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::model::{null_as_default, Post, PostList};
use super::super::state::Db;
use super::channels::readable_channel;
use super::request::{parse_body, path_id, Caller, Paging};
use super::users::created;
use crate::ids::{is_valid_id, new_id, now_ms};

/// The post as clients get it: integrations stripped, empty metadata.
pub(crate) fn for_client(post: &Post) -> Post {
    let mut post = post.stripped();
    post.metadata.get_or_insert_with(Map::new);
    post
}

/// `POST /posts`: 201 with the saved post; `posted` goes to the channel's members.
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let mut post: Post = parse_body(&body, "post")?;
    if !is_valid_id(&post.channel_id) {
        return Err(AppError::invalid_param("channel_id"));
    }
    let (saved, event) = {
        let mut db = state.db();
        let channel = db
            .channels
            .get(&post.channel_id)
            .cloned()
            .ok_or_else(|| caller.denied("create_post"))?;
        if !db.can_post(&caller.user, &channel) {
            return Err(caller.denied("create_post"));
        }
        if let Some(found) = deduplicate(&mut db, &caller, &post)? {
            return Ok(created(for_client(&found)));
        }
        if channel.delete_at != 0 {
            return Err(AppError::new(
                400,
                "api.post.create_post.can_not_post_to_deleted.error",
                "Can not post to deleted channel.",
            ));
        }
        if !post.root_id.is_empty() {
            let root_ok = db
                .posts
                .get(&post.root_id)
                .is_some_and(|r| r.channel_id == post.channel_id && r.delete_at == 0);
            if !root_ok {
                return Err(AppError::new(
                    400,
                    "api.post.create_post.root_id.app_error",
                    "Invalid RootId parameter.",
                ));
            }
        }
        let now = db.next_post_time(&post.channel_id);
        post.id = new_id();
        post.user_id = caller.user.id.clone();
        post.create_at = now;
        post.update_at = now;
        post.edit_at = 0;
        post.delete_at = 0;
        post.remote_id = None;
        // `app.CreatePost`: a bot's posts are marked, so other integrations can ignore them.
        if caller.user.is_bot {
            post.props
                .insert("from_bot".into(), serde_json::json!("true"));
        }
        post.generate_action_ids();
        db.save_post(&post);
        if !post.pending_post_id.is_empty() {
            let until = std::time::Instant::now() + PENDING_POST_IDS_TTL;
            db.seen_pending_post_ids
                .insert(post.pending_post_id.clone(), (post.id.clone(), until));
        }
        if !post.root_id.is_empty() {
            if let Some(root) = db.posts.get_mut(&post.root_id) {
                root.reply_count += 1;
                root.last_reply_at = now;
            }
        }
        let event = PostedEvent::gather(&db, &post);
        (post, event)
    };
    if let Some(event) = event {
        event.publish(&state.hub);
    }
    notify_if_shared(&state, &saved.channel_id);
    Ok(created(for_client(&saved)))
}

/// How long a `pending_post_id` is remembered (`pendingPostIDsCacheTTL`).
const PENDING_POST_IDS_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// `deduplicateCreatePost` (`server/channels/app/post.go`): a create carrying a
/// `pending_post_id` seen within the last 30 s gets the post created with it back (201)
/// instead of a second post. The key is the raw string, for every user and channel alike;
/// a post the caller may not read is ignored (a new post is created), one that cannot be
/// read otherwise (deleted) is a 500. The server also answers 500
/// `api.post.deduplicate_create_post.pending` while the first create is still saving; here a
/// create is saved under one lock, so that window does not exist.
fn deduplicate(db: &mut Db, caller: &Caller, post: &Post) -> ApiResult<Option<Post>> {
    if post.pending_post_id.is_empty() {
        return Ok(None);
    }
    let now = std::time::Instant::now();
    db.seen_pending_post_ids
        .retain(|_, (_, until)| *until > now);
    let Some((post_id, _)) = db.seen_pending_post_ids.get(&post.pending_post_id).cloned() else {
        return Ok(None);
    };
    match readable_post(db, caller, &post_id) {
        Ok(found) => Ok(Some(found)),
        Err(err) if err.status_code == 403 => Ok(None),
        Err(_) => Err(AppError::new(
            500,
            "api.post.deduplicate_create_post.failed_to_get",
            "Failed to fetch the original post after deduplicating a create post request.",
        )),
    }
}

fn readable_post(db: &Db, caller: &Caller, post_id: &str) -> ApiResult<Post> {
    let post = db
        .posts
        .get(post_id)
        .filter(|p| p.delete_at == 0)
        .cloned()
        .ok_or_else(AppError::missing_post)?;
    let channel = db
        .channels
        .get(&post.channel_id)
        .ok_or_else(AppError::missing_channel)?;
    if !db.can_read_channel(&caller.user, channel) {
        return Err(caller.denied("read_channel_content"));
    }
    Ok(post)
}

/// `GET /posts/{post_id}`.
pub(crate) async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(post_id): Path<String>,
) -> ApiResult<Json<Post>> {
    path_id("post_id", &post_id)?;
    let post = readable_post(&state.db(), &caller, &post_id)?;
    Ok(Json(for_client(&post)))
}

/// The way an edit reaches the server: the REST handlers check the edit time limit
/// (`api4/post.go`), the app layer every edit goes through does not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum EditDoor {
    /// `PUT /posts/{id}/patch`; whether the body carries `message` at all.
    Patch { message_given: bool },
    /// `PUT /posts/{id}`.
    Update,
    /// An integration's `update` answering a click (`app.UpdatePost` alone).
    Integration,
}

/// The server's refusals of an edit of `current` (becoming `edited`) that do not depend on
/// who asks: the edit time limit, system posts, posts in archived channels.
pub(crate) fn refuse_edit(db: &Db, current: &Post, edited: &Post, door: EditDoor) -> ApiResult<()> {
    // `postPatchChecks` refuses any patch that carries `message`, even an unchanged one;
    // `updatePost` only a changed message. Authors, bots and admins alike.
    let limit = db.config.service_settings.post_edit_time_limit;
    let touches_message = match door {
        EditDoor::Patch { message_given } => message_given,
        EditDoor::Update => edited.message != current.message,
        EditDoor::Integration => false,
    };
    if limit != -1 && touches_message && now_ms() > current.create_at + limit * 1000 {
        return Err(AppError::new(
            400,
            "api.post.update_post.permissions_time_limit.app_error",
            format!(
                "Post edit is only allowed for {limit} seconds. Please ask your System Administrator for details."
            ),
        ));
    }
    let archived = db
        .channels
        .get(&current.channel_id)
        .is_some_and(|c| c.delete_at != 0);
    // `app.PatchPost` looks at the channel before `app.UpdatePost` looks at the post, with
    // an id of its own.
    if archived && matches!(door, EditDoor::Patch { .. }) {
        return Err(AppError::new(
            400,
            "api.post.patch_post.can_not_update_post_in_deleted.error",
            "Cannot update a post in a deleted channel.",
        ));
    }
    if current.post_type.starts_with("system_") {
        return Err(AppError::new(
            400,
            "api.post.update_post.system_message.app_error",
            "Unable to update system message.",
        ));
    }
    if archived {
        return Err(AppError::new(
            400,
            "api.post.update_post.can_not_update_post_in_deleted.error",
            "Cannot update a post in a deleted channel.",
        ));
    }
    Ok(())
}

/// Applies an edit by `caller` to a stored post (author or admin), emits `post_edited`.
fn edit(
    state: &Shared,
    caller: &Caller,
    post_id: &str,
    door: EditDoor,
    change: impl FnOnce(&mut Post),
) -> ApiResult<Post> {
    let (post, recipients) = {
        let mut db = state.db();
        let current = readable_post(&db, caller, post_id)?;
        if current.user_id != caller.user.id && !caller.is_admin() {
            return Err(caller.denied("edit_others_posts"));
        }
        if current.user_id == caller.user.id
            && !db.can_post(
                &caller.user,
                db.channels
                    .get(&current.channel_id)
                    .ok_or_else(AppError::missing_channel)?,
            )
        {
            return Err(caller.denied("edit_post"));
        }
        let mut post = current.clone();
        change(&mut post);
        refuse_edit(&db, &current, &post, door)?;
        let now = now_ms();
        if post.message != current.message {
            post.edit_at = now;
        }
        post.update_at = now;
        post.generate_action_ids();
        db.posts.insert(post.id.clone(), post.clone());
        (post, db.channel_member_ids(&current.channel_id))
    };
    events::post_edited(&state.hub, &recipients, &post);
    notify_if_shared(state, &post.channel_id);
    Ok(post)
}

/// `DELETE /posts/{post_id}`: the author (in the channel) or an admin deletes a post; system
/// posts too, as the server has no check on the type (`api4/post.go`, `deletePost`). A deleted
/// post in a shared channel syncs as a deletion.
pub(crate) async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    Path(post_id): Path<String>,
) -> ApiResult<Json<Value>> {
    path_id("post_id", &post_id)?;
    let (post, recipients) = {
        let mut db = state.db();
        let current = db
            .posts
            .get(&post_id)
            .filter(|p| p.delete_at == 0)
            .cloned()
            .ok_or_else(|| caller.denied("delete_post"))?;
        let channel = db
            .channels
            .get(&current.channel_id)
            .cloned()
            .ok_or_else(|| caller.denied("delete_post"))?;
        if current.user_id == caller.user.id {
            if !caller.is_admin() && !db.is_channel_member(&channel.id, &caller.user.id) {
                return Err(caller.denied("delete_post"));
            }
        } else if !caller.is_admin() {
            return Err(caller.denied("delete_others_posts"));
        }
        let mut post = current;
        let now = db.now();
        post.delete_at = now;
        post.update_at = now;
        db.posts.insert(post.id.clone(), post.clone());
        (post, db.channel_member_ids(&channel.id))
    };
    events::post_deleted(&state.hub, &recipients, &post);
    notify_if_shared(&state, &post.channel_id);
    Ok(Json(serde_json::json!({"status": "OK"})))
}

/// Queues a shared channel's change for the servers it is shared with.
pub(crate) fn notify_if_shared(state: &Shared, channel_id: &str) {
    if state.db().shared_channels.contains_key(channel_id) {
        state.federation.channel_changed(channel_id);
    }
}

/// `PUT /posts/{post_id}`: replaces message and props; the body's `id` must be the post's.
pub(crate) async fn update(
    State(state): State<Shared>,
    caller: Caller,
    Path(post_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Post>> {
    path_id("post_id", &post_id)?;
    let update: Post = parse_body(&body, "post")?;
    if update.id != post_id {
        return Err(AppError::invalid_param("id"));
    }
    let post = edit(&state, &caller, &post_id, EditDoor::Update, |post| {
        post.message = update.message;
        post.props = update.props;
        post.file_ids = update.file_ids;
        post.is_pinned = update.is_pinned;
    })?;
    Ok(Json(for_client(&post)))
}

#[derive(Deserialize)]
pub(crate) struct PatchBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    props: Option<Map<String, Value>>,
    #[serde(default)]
    is_pinned: Option<bool>,
    #[serde(default)]
    file_ids: Option<Vec<String>>,
}

/// `PUT /posts/{post_id}/patch`: changes only the fields given.
pub(crate) async fn patch(
    State(state): State<Shared>,
    caller: Caller,
    Path(post_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Post>> {
    path_id("post_id", &post_id)?;
    let patch: PatchBody = parse_body(&body, "post")?;
    let door = EditDoor::Patch {
        message_given: patch.message.is_some(),
    };
    let post = edit(&state, &caller, &post_id, door, |post| {
        if let Some(message) = patch.message {
            post.message = message;
        }
        if let Some(props) = patch.props {
            post.props = props;
        }
        if let Some(pinned) = patch.is_pinned {
            post.is_pinned = pinned;
        }
        if let Some(files) = patch.file_ids {
            post.file_ids = files;
        }
    })?;
    Ok(Json(for_client(&post)))
}

#[derive(Deserialize)]
pub(crate) struct EphemeralBody {
    #[serde(default, deserialize_with = "null_as_default")]
    user_id: String,
    #[serde(default)]
    post: Option<Post>,
}

/// `POST /posts/ephemeral` `{user_id, post}`: needs `create_post_ephemeral` (system admins).
pub(crate) async fn ephemeral(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_admin("create_post_ephemeral")?;
    let body: EphemeralBody = parse_body(&body, "ephemeral_post")?;
    if !is_valid_id(&body.user_id) {
        return Err(AppError::invalid_param("user_id"));
    }
    let mut post = body.post.ok_or_else(|| AppError::invalid_param("post"))?;
    if !is_valid_id(&post.channel_id) {
        return Err(AppError::invalid_param("channel_id"));
    }
    post.user_id = caller.user.id.clone();
    let post = send_ephemeral(&state, &body.user_id, post);
    Ok(created(for_client(&post)))
}

#[derive(Deserialize, Default)]
pub(crate) struct ChannelPostsQuery {
    #[serde(flatten)]
    paging: Paging,
    /// Kept as text: flattened query structs only see strings.
    #[serde(default)]
    since: Option<String>,
}

/// `GET /channels/{channel_id}/posts`: a `PostList`, newest first.
pub(crate) async fn of_channel(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
    Query(query): Query<ChannelPostsQuery>,
) -> ApiResult<Json<PostList>> {
    path_id("channel_id", &channel_id)?;
    let since: Option<i64> = match query.since.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| AppError::invalid_url_param("since"))?,
        ),
    };
    let db = state.db();
    readable_channel(&db, &caller, &channel_id)?;
    let mut posts: Vec<&Post> = db
        .posts
        .values()
        .filter(|p| p.channel_id == channel_id)
        .filter(|p| match since {
            Some(since) => p.update_at >= since,
            None => p.delete_at == 0,
        })
        .collect();
    posts.sort_by(|a, b| b.create_at.cmp(&a.create_at).then(b.id.cmp(&a.id)));
    let posts: Vec<Post> = posts.into_iter().map(for_client).collect();
    drop(db);
    let posts = if since.is_some() {
        posts
    } else {
        query.paging.apply(posts)?
    };
    let mut list = PostList::default();
    for post in posts {
        list.order.push(post.id.clone());
        list.posts.insert(post.id.clone(), post);
    }
    Ok(Json(list))
}
