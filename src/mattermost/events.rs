//! WebSocket frames and the typed events the bot acts on, decoded from the server's JSON
//! (where `post`, `channel` and `mentions` are themselves JSON encoded as strings).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::models::{nullable, Channel, Post};

/// One text frame from the server: an event (with `seq`) or a reply to one of our actions
/// (with `seq_reply`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Frame {
    pub(crate) event: String,
    /// Kept even when malformed (then empty), so the frame's `seq` still counts.
    #[serde(deserialize_with = "lenient")]
    pub(crate) data: Map<String, Value>,
    #[serde(deserialize_with = "lenient")]
    pub(crate) broadcast: Broadcast,
    pub(crate) seq: Option<i64>,
    pub(crate) seq_reply: Option<i64>,
    pub(crate) status: String,
}

/// Decodes a part of a frame the bot can live without, falling back to the default.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// Who an event was sent to (`broadcast` of the envelope).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Broadcast {
    #[serde(deserialize_with = "nullable")]
    pub omit_users: HashMap<String, bool>,
    pub user_id: String,
    pub channel_id: String,
    pub team_id: String,
}

/// A server event, typed for the ones the bot uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// First event of a (new) connection.
    Hello {
        connection_id: String,
        server_version: String,
    },
    /// A new post in a channel the bot is a member of.
    Posted {
        post: Box<Post>,
        /// The recipient's own id when it is mentioned (each connection gets its own copy);
        /// empty otherwise.
        mentions: Vec<String>,
        /// `O`, `P`, `D` or `G`.
        channel_type: String,
        channel_name: String,
        channel_display_name: String,
        /// `@username` of the author as the server renders it.
        sender_name: String,
        team_id: String,
    },
    PostEdited {
        post: Box<Post>,
    },
    EphemeralMessage {
        post: Box<Post>,
    },
    /// A channel was created for this user (e.g. a received shared channel, sent only to the
    /// connection's creator).
    ChannelCreated {
        channel_id: String,
        team_id: String,
    },
    /// A channel changed (e.g. stopped being shared). `channel` when the server sent it whole.
    ChannelUpdated {
        channel_id: String,
        channel: Option<Box<Channel>>,
    },
    /// A user was added to a channel (`channel_id` comes from the broadcast).
    UserAdded {
        user_id: String,
        team_id: String,
        channel_id: String,
    },
    /// A DM channel was created (`channel_id` comes from the broadcast).
    DirectAdded {
        creator_id: String,
        teammate_id: String,
        channel_id: String,
    },
    /// Any other event, kept raw.
    Other {
        event: String,
        data: Map<String, Value>,
        broadcast: Broadcast,
    },
}

impl Event {
    /// The event's type as the server names it (`posted`, `hello`…).
    pub fn name(&self) -> &str {
        match self {
            Event::Hello { .. } => "hello",
            Event::Posted { .. } => "posted",
            Event::PostEdited { .. } => "post_edited",
            Event::EphemeralMessage { .. } => "ephemeral_message",
            Event::ChannelCreated { .. } => "channel_created",
            Event::ChannelUpdated { .. } => "channel_updated",
            Event::UserAdded { .. } => "user_added",
            Event::DirectAdded { .. } => "direct_added",
            Event::Other { event, .. } => event,
        }
    }

    /// Decodes one event. Fails (with a reason fit for a warning log) when a field the bot
    /// relies on is missing or malformed; unknown event types become [`Event::Other`].
    pub fn decode(
        event: &str,
        data: &Map<String, Value>,
        broadcast: &Broadcast,
    ) -> Result<Event, String> {
        let text = |key: &str| -> String {
            match data.get(key) {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            }
        };
        let required = |key: &str| -> Result<String, String> {
            match data.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(format!("{event}: missing {key}")),
            }
        };
        let post = || -> Result<Box<Post>, String> {
            let raw = required("post")?;
            serde_json::from_str::<Post>(&raw)
                .map(Box::new)
                .map_err(|e| format!("{event}: post is not a post: {e}"))
        };
        Ok(match event {
            "hello" => Event::Hello {
                connection_id: required("connection_id")?,
                server_version: text("server_version"),
            },
            "posted" => Event::Posted {
                post: post()?,
                mentions: match data.get("mentions") {
                    Some(Value::String(s)) if !s.is_empty() => {
                        serde_json::from_str::<Option<Vec<String>>>(s)
                            .map_err(|e| format!("posted: mentions is not a list of ids: {e}"))?
                            .unwrap_or_default()
                    }
                    // Tolerate a server that sends the list unencoded.
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                },
                channel_type: text("channel_type"),
                channel_name: text("channel_name"),
                channel_display_name: text("channel_display_name"),
                sender_name: text("sender_name"),
                team_id: text("team_id"),
            },
            "post_edited" => Event::PostEdited { post: post()? },
            "ephemeral_message" => Event::EphemeralMessage { post: post()? },
            "channel_created" => Event::ChannelCreated {
                channel_id: required("channel_id")?,
                team_id: text("team_id"),
            },
            "channel_updated" => {
                let channel = match data.get("channel") {
                    Some(Value::String(s)) if !s.is_empty() => {
                        Some(Box::new(serde_json::from_str::<Channel>(s).map_err(
                            |e| format!("channel_updated: channel is not a channel: {e}"),
                        )?))
                    }
                    _ => None,
                };
                let channel_id = match &channel {
                    Some(c) if !c.id.is_empty() => c.id.clone(),
                    _ => {
                        let id = text("channel_id");
                        if id.is_empty() {
                            broadcast.channel_id.clone()
                        } else {
                            id
                        }
                    }
                };
                if channel_id.is_empty() {
                    return Err("channel_updated: no channel id".into());
                }
                Event::ChannelUpdated {
                    channel_id,
                    channel,
                }
            }
            "user_added" => Event::UserAdded {
                user_id: required("user_id")?,
                team_id: text("team_id"),
                channel_id: broadcast.channel_id.clone(),
            },
            "direct_added" => Event::DirectAdded {
                creator_id: text("creator_id"),
                teammate_id: text("teammate_id"),
                channel_id: broadcast.channel_id.clone(),
            },
            other => Event::Other {
                event: other.to_owned(),
                data: data.clone(),
                broadcast: broadcast.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(raw: Value) -> Frame {
        serde_json::from_value(raw).unwrap()
    }

    fn decode(raw: Value) -> Result<Event, String> {
        let f = frame(raw);
        Event::decode(&f.event, &f.data, &f.broadcast)
    }

    #[test]
    fn posted_decodes_the_json_string_post_and_mentions() {
        let post = json!({"id": "p1", "channel_id": "c1", "user_id": "u1", "message": "@sharebot help",
                          "props": {"from_bot": "false"}});
        let event = decode(json!({
            "event": "posted", "seq": 4,
            "data": {
                "post": post.to_string(), "mentions": "[\"bot1\"]", "channel_type": "O",
                "channel_name": "admins", "channel_display_name": "Admins",
                "sender_name": "@alice", "team_id": "t1", "set_online": true
            },
            "broadcast": {"omit_users": null, "user_id": "", "channel_id": "c1", "team_id": ""}
        }))
        .unwrap();
        match event {
            Event::Posted {
                post,
                mentions,
                channel_type,
                sender_name,
                team_id,
                ..
            } => {
                assert_eq!(post.id, "p1");
                assert_eq!(post.message, "@sharebot help");
                assert_eq!(mentions, vec!["bot1".to_owned()]);
                assert_eq!(channel_type, "O");
                assert_eq!(sender_name, "@alice");
                assert_eq!(team_id, "t1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn posted_without_mentions_has_none() {
        let event = decode(json!({"event": "posted", "seq": 1, "data": {
            "post": json!({"id": "p", "channel_id": "d1"}).to_string(), "channel_type": "D"}}))
        .unwrap();
        assert!(matches!(event, Event::Posted { ref mentions, .. } if mentions.is_empty()));
    }

    #[test]
    fn malformed_events_are_errors_not_panics() {
        for raw in [
            json!({"event": "posted", "data": {"post": "{not json"}}),
            json!({"event": "posted", "data": {"post": 12}}),
            json!({"event": "posted", "data": {"post": "{}", "mentions": "[1,2"}}),
            json!({"event": "hello", "data": {}}),
            json!({"event": "channel_created", "data": {"team_id": "t"}}),
            json!({"event": "user_added", "data": null}),
            json!({"event": "channel_updated", "data": {"channel": "[]"}}),
        ] {
            assert!(decode(raw.clone()).is_err(), "{raw}");
        }
    }

    #[test]
    fn channel_and_membership_events() {
        assert_eq!(
            decode(
                json!({"event": "channel_created", "data": {"channel_id": "c1", "team_id": "t1"}})
            )
            .unwrap(),
            Event::ChannelCreated {
                channel_id: "c1".into(),
                team_id: "t1".into()
            }
        );
        assert_eq!(
            decode(
                json!({"event": "user_added", "data": {"user_id": "u1", "team_id": "t1"},
                          "broadcast": {"channel_id": "c9"}})
            )
            .unwrap(),
            Event::UserAdded {
                user_id: "u1".into(),
                team_id: "t1".into(),
                channel_id: "c9".into()
            }
        );
        let updated = decode(json!({"event": "channel_updated", "data": {
            "channel": json!({"id": "c2", "shared": false, "type": "O"}).to_string()}}))
        .unwrap();
        assert!(
            matches!(updated, Event::ChannelUpdated { ref channel_id, channel: Some(_) } if channel_id == "c2")
        );
        let hello = decode(json!({"event": "hello", "seq": 0,
            "data": {"connection_id": "abc", "server_version": "10.11.0"}}))
        .unwrap();
        assert_eq!(
            hello,
            Event::Hello {
                connection_id: "abc".into(),
                server_version: "10.11.0".into()
            }
        );
        let other = decode(json!({"event": "typing", "data": {"parent_id": ""}})).unwrap();
        assert_eq!(other.name(), "typing");
    }

    #[test]
    fn malformed_envelope_parts_keep_the_seq() {
        let f = frame(json!({"event": "posted", "seq": 9, "data": "oops", "broadcast": [1]}));
        assert_eq!(f.seq, Some(9));
        assert!(f.data.is_empty());
        assert_eq!(f.broadcast, Broadcast::default());
    }

    #[test]
    fn replies_are_told_apart_from_events() {
        let f = frame(json!({"status": "OK", "seq_reply": 3, "data": {"text": "pong"}}));
        assert_eq!(f.seq_reply, Some(3));
        assert!(f.event.is_empty());
        assert_eq!(f.seq, None);
    }
}
