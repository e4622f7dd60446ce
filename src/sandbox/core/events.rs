//! WebSocket events the REST handlers emit, shaped as the real server's (`posted`, `post_edited`,
//! `ephemeral_message`, `channel_created`, `user_added`, `direct_added`, ...).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::super::model::{Channel, Post, Reaction, TeamMember};
use super::super::state::Db;
use super::super::websocket::{Broadcast, Hub};

/// Usernames `@`-mentioned in a message (a trailing `.`, `-` or `_` may end the sentence
/// instead of the name, so both spellings count, as the server tries both).
pub(crate) fn mentioned_names(message: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut rest = message;
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
            .count();
        let name = after[..len].to_lowercase();
        if !name.is_empty() {
            names.insert(name.trim_end_matches(['.', '-', '_']).to_string());
            names.insert(name);
        }
        rest = &after[len..];
    }
    names
}

/// What a `posted` event needs, gathered under the lock.
pub(crate) struct PostedEvent {
    post: Post,
    channel: Channel,
    sender_name: String,
    display_name: String,
    recipients: Vec<String>,
    mentioned: HashSet<String>,
}

impl PostedEvent {
    /// Gathers the event for a saved post (call with the lock held, publish after).
    pub fn gather(db: &Db, post: &Post) -> Option<PostedEvent> {
        let channel = db.channels.get(&post.channel_id)?.clone();
        let sender = db.user(&post.user_id)?;
        // `EnablePostUsernameOverride` is off by default, so the sender is always `@username`.
        let sender_name = format!("@{}", sender.username);
        let recipients = db.channel_member_ids(&channel.id);
        let names = mentioned_names(&post.message);
        let everyone = ["channel", "all", "here"]
            .iter()
            .any(|n| names.contains(*n));
        let mentioned = recipients
            .iter()
            .filter(|id| **id != post.user_id)
            .filter(|id| {
                channel.channel_type == "D"
                    || everyone
                    || db.user(id).is_some_and(|u| names.contains(&u.username))
            })
            .cloned()
            .collect();
        let display_name = match channel.channel_type.as_str() {
            "D" => format!("@{}", sender.username),
            _ => channel.display_name.clone(),
        };
        Some(PostedEvent {
            post: post.clone(),
            channel,
            sender_name,
            display_name,
            recipients,
            mentioned,
        })
    }

    /// Sends `posted` to every channel member, `mentions` only in the mentioned members' copies.
    pub fn publish(&self, hub: &Hub) {
        let broadcast = Broadcast {
            channel_id: self.channel.id.clone(),
            ..Broadcast::default()
        };
        let post = self.post.to_event_string();
        hub.publish("posted", &self.recipients, &broadcast, &|user_id| {
            let mut data = json!({
                "post": post,
                "channel_type": self.channel.channel_type,
                "channel_name": self.channel.name,
                "channel_display_name": self.display_name,
                "sender_name": self.sender_name,
                "team_id": self.channel.team_id,
                "set_online": true,
            });
            if self.mentioned.contains(user_id) {
                data["mentions"] = Value::String(json!([user_id]).to_string());
            }
            data
        });
    }
}

/// `post_edited` to the channel's members.
pub(crate) fn post_edited(hub: &Hub, recipients: &[String], post: &Post) {
    let broadcast = Broadcast {
        channel_id: post.channel_id.clone(),
        ..Broadcast::default()
    };
    let text = post.to_event_string();
    hub.publish(
        "post_edited",
        recipients,
        &broadcast,
        &|_| json!({"post": text}),
    );
}

/// `post_deleted` to the channel's members.
pub(crate) fn post_deleted(hub: &Hub, recipients: &[String], post: &Post) {
    let broadcast = Broadcast {
        channel_id: post.channel_id.clone(),
        ..Broadcast::default()
    };
    let text = post.to_event_string();
    hub.publish(
        "post_deleted",
        recipients,
        &broadcast,
        &|_| json!({"post": text}),
    );
}

/// `reaction_added` or `reaction_removed`, gathered under the lock and published after it.
pub(crate) struct ReactionEvent {
    pub event: &'static str,
    pub reaction: Reaction,
    /// The post's channel (a removal's reaction may carry no channel id).
    pub channel_id: String,
    pub recipients: Vec<String>,
}

impl ReactionEvent {
    /// Sends the event to the channel's members; `reaction` is the reaction as a JSON string.
    pub fn publish(&self, hub: &Hub) {
        let broadcast = Broadcast {
            channel_id: self.channel_id.clone(),
            ..Broadcast::default()
        };
        let text = serde_json::to_string(&self.reaction).unwrap_or_default();
        hub.publish(
            self.event,
            &self.recipients,
            &broadcast,
            &|_| json!({"reaction": text}),
        );
    }
}

/// `ephemeral_message` to one user.
pub(crate) fn ephemeral(hub: &Hub, user_id: &str, post: &Post) {
    let broadcast = Broadcast {
        user_id: user_id.to_string(),
        channel_id: post.channel_id.clone(),
        ..Broadcast::default()
    };
    let text = post.to_event_string();
    hub.publish(
        "ephemeral_message",
        &[user_id.to_string()],
        &broadcast,
        &|_| json!({"post": text}),
    );
}

/// `channel_created` to the creator alone.
pub(crate) fn channel_created(hub: &Hub, creator_id: &str, channel: &Channel) {
    let broadcast = Broadcast {
        user_id: creator_id.to_string(),
        ..Broadcast::default()
    };
    hub.publish(
        "channel_created",
        &[creator_id.to_string()],
        &broadcast,
        &|_| json!({"channel_id": channel.id, "team_id": channel.team_id}),
    );
}

/// `user_added` to the channel's members.
pub(crate) fn user_added(hub: &Hub, recipients: &[String], channel: &Channel, user_id: &str) {
    let broadcast = Broadcast {
        channel_id: channel.id.clone(),
        ..Broadcast::default()
    };
    hub.publish(
        "user_added",
        recipients,
        &broadcast,
        &|_| json!({"user_id": user_id, "team_id": channel.team_id}),
    );
}

/// `user_removed` for a member taken out of a channel: one copy to the remaining members, one to
/// the removed user (who no longer gets the channel's events).
pub(crate) fn user_removed(
    hub: &Hub,
    members: &[String],
    channel_id: &str,
    user_id: &str,
    remover_id: &str,
) {
    let to_channel = Broadcast {
        channel_id: channel_id.to_string(),
        ..Broadcast::default()
    };
    hub.publish(
        "user_removed",
        members,
        &to_channel,
        &|_| json!({"user_id": user_id, "remover_id": remover_id}),
    );
    let to_user = Broadcast {
        user_id: user_id.to_string(),
        ..Broadcast::default()
    };
    hub.publish(
        "user_removed",
        &[user_id.to_string()],
        &to_user,
        &|_| json!({"channel_id": channel_id, "remover_id": remover_id}),
    );
}

/// `direct_added` to both members of a new direct channel.
pub(crate) fn direct_added(
    hub: &Hub,
    recipients: &[String],
    channel_id: &str,
    creator: &str,
    teammate: &str,
) {
    let broadcast = Broadcast {
        channel_id: channel_id.to_string(),
        ..Broadcast::default()
    };
    hub.publish(
        "direct_added",
        recipients,
        &broadcast,
        &|_| json!({"creator_id": creator, "teammate_id": teammate}),
    );
}

/// `added_to_team` to the added user.
pub(crate) fn added_to_team(hub: &Hub, team_id: &str, user_id: &str) {
    let broadcast = Broadcast {
        user_id: user_id.to_string(),
        ..Broadcast::default()
    };
    hub.publish(
        "added_to_team",
        &[user_id.to_string()],
        &broadcast,
        &|_| json!({"team_id": team_id, "user_id": user_id}),
    );
}

/// `memberrole_updated` to the member whose team roles changed (`sendUpdatedMemberRoleEvent`:
/// the member as JSON text, to that user only).
pub(crate) fn member_role_updated(hub: &Hub, member: &TeamMember) {
    let broadcast = Broadcast {
        user_id: member.user_id.clone(),
        ..Broadcast::default()
    };
    let text = serde_json::to_string(member).unwrap_or_default();
    hub.publish(
        "memberrole_updated",
        std::slice::from_ref(&member.user_id),
        &broadcast,
        &|_| json!({ "member": text }),
    );
}

/// `channel_deleted` to the team's members.
pub(crate) fn channel_deleted(hub: &Hub, recipients: &[String], channel: &Channel) {
    let broadcast = Broadcast {
        team_id: channel.team_id.clone(),
        ..Broadcast::default()
    };
    hub.publish(
        "channel_deleted",
        recipients,
        &broadcast,
        &|_| json!({"channel_id": channel.id, "delete_at": channel.delete_at}),
    );
}

/// `channel_updated` to the channel's members, the channel as a JSON string (as
/// `notifyClientsForSharedChannelConverted` sends it when sharing starts or stops).
pub(crate) fn channel_updated(hub: &Hub, recipients: &[String], channel: &Channel) {
    let broadcast = Broadcast {
        channel_id: channel.id.clone(),
        ..Broadcast::default()
    };
    let text = serde_json::to_string(channel).unwrap_or_default();
    hub.publish(
        "channel_updated",
        recipients,
        &broadcast,
        &|_| json!({"channel": text}),
    );
}

/// `open_dialog` to the user the trigger was issued to; `dialog` is the request as a JSON string.
pub(crate) fn open_dialog(hub: &Hub, user_id: &str, request: &Value) {
    let broadcast = Broadcast {
        user_id: user_id.to_string(),
        ..Broadcast::default()
    };
    let text = request.to_string();
    hub.publish(
        "open_dialog",
        &[user_id.to_string()],
        &broadcast,
        &|_| json!({"dialog": text}),
    );
}

#[cfg(test)]
mod tests {
    use super::super::super::seed::Seed;
    use super::super::super::state::direct_channel_name;
    use super::*;

    fn post(db: &Db, channel_id: &str, sender: &str, message: &str) -> Post {
        Post {
            id: "p".into(),
            channel_id: channel_id.into(),
            user_id: db.user_by_username(sender).unwrap().id.clone(),
            message: message.into(),
            ..Post::default()
        }
    }

    #[test]
    fn only_mentioned_members_and_dm_partners_get_mentions() {
        let mut db = Db::from_seed(&Seed::default(), "tok");
        let id = |db: &Db, n: &str| db.user_by_username(n).unwrap().id.clone();
        let team = db.team_by_name("engineering").unwrap().id.clone();
        let town = db.channel_by_name(&team, "town-square").unwrap().id.clone();
        let event =
            PostedEvent::gather(&db, &post(&db, &town, "sharebot", "hey @user-1.")).unwrap();
        assert_eq!(event.mentioned, HashSet::from([id(&db, "user-1")]));
        assert_eq!(event.recipients.len(), 4);
        assert_eq!(event.sender_name, "@sharebot");
        assert_eq!(event.display_name, "Town Square");

        let (a, b) = (id(&db, "sharebot"), id(&db, "sysadmin"));
        let dm = db.insert_channel("", "D", &direct_channel_name(&a, &b), "", &a, 0);
        db.add_channel_member(&dm, &a, false, 0);
        db.add_channel_member(&dm, &b, false, 0);
        let event = PostedEvent::gather(&db, &post(&db, &dm, "sharebot", "hello")).unwrap();
        assert_eq!(event.mentioned, HashSet::from([b.clone()]));
        assert_eq!(event.display_name, "@sharebot");
        assert_eq!(event.channel.team_id, "");
    }

    #[test]
    fn mentions_are_found_with_and_without_trailing_punctuation() {
        let names = mentioned_names("hi @Sysadmin and @user-1. and @sharebot, mail a@b");
        assert!(names.contains("sysadmin"));
        assert!(names.contains("user-1"));
        assert!(names.contains("sharebot"));
        assert!(names.contains("b"));
        assert!(!names.contains("hi"));
        assert!(mentioned_names("no mentions here").is_empty());
    }
}
