//! Emoji reaction routes: `POST /reactions`, a post's list, and removal (the rules are in
//! `core::reactions`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::super::core::reactions::{
    apply_remove, apply_save, emoji_chars_ok, reactions_of, EMOJI_NAME_MAX_LENGTH,
};
use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::model::Reaction;
use super::super::state::Db;
use super::posts::notify_if_shared;
use super::request::{parse_body, path_id, Caller};
use crate::ids::is_valid_id;

fn invalid_reaction() -> AppError {
    AppError::new(
        400,
        "api.reaction.save_reaction.invalid.app_error",
        "Reaction is not valid.",
    )
}

/// `SessionHasPermissionToChannelByPost` for the reaction permissions (`add_reaction`,
/// `remove_reaction`, `read_channel_content`): channel members hold them through
/// `channel_user`, system admins everywhere; a missing post leaves only the system role.
fn may_by_post(db: &Db, caller: &Caller, post_id: &str) -> bool {
    caller.is_admin()
        || db
            .posts
            .get(post_id)
            .is_some_and(|p| db.is_channel_member(&p.channel_id, &caller.user.id))
}

/// Saves a reaction (no permission check) and publishes `reaction_added`.
pub(crate) fn save_reaction(state: &Shared, reaction: Reaction) -> ApiResult<Reaction> {
    let event = apply_save(&mut state.db(), reaction)?;
    event.publish(&state.hub);
    notify_if_shared(state, &event.channel_id);
    Ok(event.reaction)
}

/// Removes a reaction (no permission check) and publishes `reaction_removed`.
pub(crate) fn remove_reaction(state: &Shared, reaction: Reaction) -> ApiResult<Reaction> {
    let event = apply_remove(&mut state.db(), reaction)?;
    event.publish(&state.hub);
    notify_if_shared(state, &event.channel_id);
    Ok(event.reaction)
}

/// `POST /reactions`: the caller reacts as itself. The server answers 200 (the spec says 201):
/// api4/reaction.go `saveReaction` writes the body without setting a status.
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Reaction>> {
    let reaction: Reaction = parse_body(&body, "reaction")?;
    if !is_valid_id(&reaction.user_id)
        || !is_valid_id(&reaction.post_id)
        || reaction.emoji_name.is_empty()
        || reaction.emoji_name.len() > EMOJI_NAME_MAX_LENGTH
    {
        return Err(invalid_reaction());
    }
    if reaction.user_id != caller.user.id {
        return Err(AppError::new(
            403,
            "api.reaction.save_reaction.user_id.app_error",
            "You cannot save reaction for the other user.",
        ));
    }
    if !may_by_post(&state.db(), &caller, &reaction.post_id) {
        return Err(caller.denied("add_reaction"));
    }
    Ok(Json(save_reaction(&state, reaction)?))
}

/// `GET /posts/{post_id}/reactions`.
pub(crate) async fn of_post(
    State(state): State<Shared>,
    caller: Caller,
    Path(post_id): Path<String>,
) -> ApiResult<Json<Vec<Reaction>>> {
    path_id("post_id", &post_id)?;
    let db = state.db();
    if !may_by_post(&db, &caller, &post_id) {
        return Err(caller.denied("read_channel_content"));
    }
    Ok(Json(reactions_of(&db, &post_id)))
}

/// `DELETE /users/{user_id}/posts/{post_id}/reactions/{emoji_name}`: one's own reaction, or
/// anyone's with `remove_others_reactions` (system admins).
pub(crate) async fn remove(
    State(state): State<Shared>,
    caller: Caller,
    Path((user_id, post_id, emoji_name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    path_id("user_id", &user_id)?;
    path_id("post_id", &post_id)?;
    if !emoji_chars_ok(&emoji_name) {
        return Err(AppError::not_found_route());
    }
    if emoji_name.len() > EMOJI_NAME_MAX_LENGTH {
        return Err(AppError::invalid_url_param("emoji_name"));
    }
    if !may_by_post(&state.db(), &caller, &post_id) {
        return Err(caller.denied("remove_reaction"));
    }
    if user_id != caller.user.id && !caller.is_admin() {
        return Err(caller.denied("remove_others_reactions"));
    }
    remove_reaction(
        &state,
        Reaction {
            user_id,
            post_id,
            emoji_name,
            ..Reaction::default()
        },
    )?;
    Ok(status_ok())
}
