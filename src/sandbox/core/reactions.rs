//! The reaction rules the REST API and the shared-channel sync both apply: saving and removing
//! a reaction on the data (`SaveReactionForPost`, `DeleteReactionForPost`), and a post's list.

use super::super::error::{ApiResult, AppError};
use super::super::model::{Post, Reaction};
use super::super::state::Db;
use super::events::ReactionEvent;
use crate::ids::{is_valid_id, now_ms};

/// `model.EmojiNameMaxLength`.
pub(crate) const EMOJI_NAME_MAX_LENGTH: usize = 64;
/// `ServiceSettings.UniqueEmojiReactionLimitPerPost`, default value.
const UNIQUE_EMOJI_LIMIT: usize = 50;

/// The character set `Reaction.IsValid` and the `emoji_name` route pattern allow.
pub(crate) fn emoji_chars_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-+_".contains(&b))
}

/// Whether the emoji exists. The sandbox has neither the server's system emoji table nor custom
/// emojis, so every name an emoji could have counts as one.
fn emoji_exists(name: &str) -> bool {
    emoji_chars_ok(name) && name.len() <= EMOJI_NAME_MAX_LENGTH
}

fn missing_emoji() -> AppError {
    AppError::new(
        404,
        "app.emoji.get_by_name.no_result",
        "We couldn’t find the emoji.",
    )
}

/// `GetSinglePost` without deleted posts.
fn live_post(db: &Db, post_id: &str) -> ApiResult<Post> {
    db.posts
        .get(post_id)
        .filter(|p| p.delete_at == 0)
        .cloned()
        .ok_or_else(AppError::missing_post)
}

/// A post's current reactions, oldest first (`GetForPost`).
pub(crate) fn reactions_of(db: &Db, post_id: &str) -> Vec<Reaction> {
    let mut list: Vec<Reaction> = db
        .reactions
        .range((post_id.to_string(), String::new(), String::new())..)
        .take_while(|((p, _, _), _)| p == post_id)
        .map(|(_, r)| r)
        .filter(|r| r.delete_at == 0)
        .cloned()
        .collect();
    list.sort_by_key(|r| (r.create_at, db.reaction_order.get(&key(r)).copied()));
    list
}

/// After a reaction change: the post's `update_at`, `has_reactions` and `metadata.reactions`.
fn refresh_post(db: &mut Db, post_id: &str, now: i64) {
    let list = reactions_of(db, post_id);
    if let Some(post) = db.posts.get_mut(post_id) {
        post.update_at = now;
        post.has_reactions = !list.is_empty();
        let metadata = post.metadata.get_or_insert_with(Default::default);
        if list.is_empty() {
            metadata.remove("reactions");
        } else {
            metadata.insert(
                "reactions".into(),
                serde_json::to_value(&list).unwrap_or_default(),
            );
        }
    }
}

/// `Reaction.IsValid`, after `PreSave`.
fn validate(reaction: &Reaction) -> ApiResult<()> {
    let fail = |field: &str, message: &str| {
        Err(AppError::new(
            400,
            &format!("model.reaction.is_valid.{field}.app_error"),
            message,
        ))
    };
    if !is_valid_id(&reaction.user_id) {
        return fail("user_id", "Invalid user id.");
    }
    if !is_valid_id(&reaction.post_id) {
        return fail("post_id", "Invalid post id.");
    }
    if !emoji_exists(&reaction.emoji_name) {
        return fail("emoji_name", "Invalid emoji name.");
    }
    Ok(())
}

fn key(reaction: &Reaction) -> (String, String, String) {
    (
        reaction.post_id.clone(),
        reaction.user_id.clone(),
        reaction.emoji_name.clone(),
    )
}

/// `SaveReactionForPost` on the data: checks the post, emoji, per-post limit and channel, then
/// stores the reaction (an existing one is revived, keeping its `create_at`). Permission checks
/// are the caller's. Returns the saved reaction and its `reaction_added` event.
pub(crate) fn apply_save(db: &mut Db, mut reaction: Reaction) -> ApiResult<ReactionEvent> {
    let post = live_post(db, &reaction.post_id)?;
    if !emoji_exists(&reaction.emoji_name) {
        return Err(missing_emoji());
    }
    let current = reactions_of(db, &post.id);
    if !current.iter().any(|r| r.emoji_name == reaction.emoji_name) {
        let mut names: Vec<&str> = current.iter().map(|r| r.emoji_name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() >= UNIQUE_EMOJI_LIMIT {
            return Err(AppError::new(
                400,
                "app.reaction.save.save.too_many_reactions",
                "Reaction limit has been reached for this post.",
            ));
        }
    }
    let channel = db
        .channels
        .get(&post.channel_id)
        .ok_or_else(AppError::missing_channel)?;
    if channel.delete_at > 0 {
        return Err(AppError::new(
            403,
            "api.reaction.save.archived_channel.app_error",
            "You cannot react in an archived channel.",
        ));
    }
    reaction.channel_id = post.channel_id.clone();
    let now = now_ms();
    if reaction.create_at == 0 {
        reaction.create_at = now;
    }
    reaction.update_at = now;
    reaction.delete_at = 0;
    reaction.remote_id.get_or_insert_with(String::new);
    validate(&reaction)?;
    let mut stored = reaction.clone();
    if let Some(existing) = db.reactions.get(&key(&reaction)) {
        stored.create_at = existing.create_at;
    }
    let next = db.reaction_order.len() as u64;
    db.reaction_order.entry(key(&reaction)).or_insert(next);
    db.reactions.insert(key(&reaction), stored);
    refresh_post(db, &post.id, now);
    Ok(ReactionEvent {
        event: "reaction_added",
        reaction,
        channel_id: post.channel_id.clone(),
        recipients: db.channel_member_ids(&post.channel_id),
    })
}

/// `DeleteReactionForPost` on the data: marks the (post, user, emoji) reaction deleted, if there
/// is one; removing an absent reaction succeeds too, as on the server. Returns the
/// `reaction_removed` event, which carries `reaction` as given plus its new `update_at`.
pub(crate) fn apply_remove(db: &mut Db, mut reaction: Reaction) -> ApiResult<ReactionEvent> {
    let post = live_post(db, &reaction.post_id)?;
    let channel = db
        .channels
        .get(&post.channel_id)
        .ok_or_else(AppError::missing_channel)?;
    if channel.delete_at > 0 {
        return Err(AppError::new(
            403,
            "api.reaction.delete.archived_channel.app_error",
            "You cannot remove a reaction in an archived channel.",
        ));
    }
    let now = now_ms();
    reaction.update_at = now;
    reaction.remote_id.get_or_insert_with(String::new);
    if let Some(stored) = db.reactions.get_mut(&key(&reaction)) {
        stored.update_at = now;
        stored.delete_at = now;
        stored.remote_id = reaction.remote_id.clone();
    }
    refresh_post(db, &post.id, now);
    Ok(ReactionEvent {
        event: "reaction_removed",
        reaction,
        channel_id: post.channel_id.clone(),
        recipients: db.channel_member_ids(&post.channel_id),
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::seed::Seed;
    use super::*;

    fn db_with_post() -> (Db, String, String) {
        let mut db = Db::from_seed(&Seed::default(), "tok");
        let team = db.team_by_name("engineering").unwrap().id.clone();
        let town = db.channel_by_name(&team, "town-square").unwrap().id.clone();
        let user = db.user_by_username("user-1").unwrap().id.clone();
        let post = Post {
            id: crate::ids::new_id(),
            channel_id: town,
            user_id: user.clone(),
            ..Post::default()
        };
        let post_id = post.id.clone();
        db.posts.insert(post_id.clone(), post);
        (db, post_id, user)
    }

    #[test]
    fn a_remote_reaction_keeps_its_origin_and_a_removal_keeps_the_row() {
        let (mut db, post_id, user) = db_with_post();
        let remote = Reaction {
            user_id: user.clone(),
            post_id: post_id.clone(),
            emoji_name: "white_check_mark".into(),
            create_at: 1234,
            remote_id: Some("remote1".into()),
            ..Reaction::default()
        };
        let event = apply_save(&mut db, remote.clone()).unwrap();
        assert_eq!(event.event, "reaction_added");
        assert_eq!(event.reaction.create_at, 1234);
        assert_eq!(event.reaction.remote_id.as_deref(), Some("remote1"));
        assert_eq!(event.recipients.len(), 4);
        assert!(db.posts[&post_id].has_reactions);

        let event = apply_remove(&mut db, remote).unwrap();
        assert_eq!(event.event, "reaction_removed");
        assert!(reactions_of(&db, &post_id).is_empty());
        assert!(!db.posts[&post_id].has_reactions);
        let row = db.reactions.values().next().unwrap();
        assert!(row.delete_at > 0);
        assert_eq!(row.remote_id.as_deref(), Some("remote1"));
    }

    #[test]
    fn the_fifty_first_distinct_emoji_is_refused() {
        let (mut db, post_id, user) = db_with_post();
        let react = |db: &mut Db, name: String| {
            apply_save(
                db,
                Reaction {
                    user_id: user.clone(),
                    post_id: post_id.clone(),
                    emoji_name: name,
                    ..Reaction::default()
                },
            )
        };
        for i in 0..UNIQUE_EMOJI_LIMIT {
            react(&mut db, format!("e{i}")).unwrap();
        }
        let err = react(&mut db, "one_more".into()).err().unwrap();
        assert_eq!(err.id, "app.reaction.save.save.too_many_reactions");
        assert!(react(&mut db, "e0".into()).is_ok());
    }
}
