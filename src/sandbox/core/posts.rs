//! Posts the server writes itself: system posts (joins, adds, archives, unshares) and
//! ephemeral posts to one user.

use super::super::model::Post;
use super::events;
use super::shared::Shared;
use crate::ids::{new_id, now_ms};

/// A system post (join, add, archive messages).
pub(crate) fn system_post(
    channel_id: &str,
    user_id: &str,
    post_type: &str,
    message: String,
    props: serde_json::Value,
    now: i64,
) -> Post {
    Post {
        id: new_id(),
        create_at: now,
        update_at: now,
        user_id: user_id.into(),
        channel_id: channel_id.into(),
        message,
        post_type: post_type.into(),
        props: props.as_object().cloned().unwrap_or_default(),
        ..Post::default()
    }
}

/// Builds and delivers an ephemeral post to one user (`SendEphemeralPost`); it is kept so its
/// actions can be clicked (the real server carries them in encrypted cookies instead).
pub(crate) fn send_ephemeral(state: &Shared, user_id: &str, mut post: Post) -> Post {
    let now = now_ms();
    if post.id.is_empty() {
        post.id = new_id();
    }
    post.post_type = "system_ephemeral".into();
    post.create_at = now;
    post.update_at = now;
    post.generate_action_ids();
    state
        .db()
        .ephemeral_posts
        .insert(post.id.clone(), post.clone());
    events::ephemeral(&state.hub, user_id, &post);
    post
}
