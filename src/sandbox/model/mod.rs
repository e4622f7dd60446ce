//! The JSON shapes the real server sends (`server/public/model`: user.go, team.go, channel.go,
//! channel_member.go, team_member.go, post.go, post_list.go), field for field; `records` has
//! the server's records of secure connections and shared channels.

pub(crate) mod config;
pub(crate) mod records;
pub(crate) mod webhook;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `model.User` (fields with `omitempty` in Go are skipped when empty, as the server does).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub create_at: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub update_at: i64,
    #[serde(default)]
    pub delete_at: i64,
    pub username: String,
    #[serde(default)]
    pub auth_service: String,
    #[serde(default)]
    pub email: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub email_verified: bool,
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub position: String,
    /// Space-separated role names, e.g. `system_user system_admin`.
    #[serde(default)]
    pub roles: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notify_props: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_password_update: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_picture_update: i64,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub timezone: BTreeMap<String, String>,
    /// Set on users synchronised from a remote cluster (shared channels); absent for local users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_bot: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bot_description: String,
    #[serde(default)]
    pub disable_welcome_email: bool,
}

impl User {
    /// Whether the user holds the `system_admin` role.
    pub fn is_system_admin(&self) -> bool {
        self.roles.split_whitespace().any(|r| r == "system_admin")
    }
}

/// `model.Team`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Team {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub display_name: String,
    pub name: String,
    pub description: String,
    pub email: String,
    /// `O` (open) or `I` (invite only).
    #[serde(rename = "type")]
    pub team_type: String,
    pub company_name: String,
    pub allowed_domains: String,
    pub invite_id: String,
    pub allow_open_invite: bool,
    pub scheme_id: Option<String>,
    pub group_constrained: Option<bool>,
    pub policy_id: Option<String>,
    pub cloud_limits_archived: bool,
}

impl Team {
    /// `Team.Sanitize`: what a user without `manage_team` sees.
    pub fn sanitized(&self) -> Team {
        Team {
            email: String::new(),
            invite_id: String::new(),
            allowed_domains: String::new(),
            ..self.clone()
        }
    }
}

/// `model.TeamMember`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub roles: String,
    pub delete_at: i64,
    pub scheme_guest: bool,
    pub scheme_user: bool,
    pub scheme_admin: bool,
    pub explicit_roles: String,
    pub create_at: i64,
}

/// `model.Channel`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Channel {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    /// Empty for direct and group channels.
    pub team_id: String,
    /// `O` public, `P` private, `D` direct, `G` group.
    #[serde(rename = "type")]
    pub channel_type: String,
    pub display_name: String,
    pub name: String,
    pub header: String,
    pub purpose: String,
    pub last_post_at: i64,
    pub total_msg_count: i64,
    pub extra_update_at: i64,
    pub creator_id: String,
    pub scheme_id: Option<String>,
    pub props: Option<Map<String, Value>>,
    pub group_constrained: Option<bool>,
    /// Whether the channel is shared with a remote cluster.
    pub shared: Option<bool>,
    pub total_msg_count_root: i64,
    pub policy_id: Option<String>,
    pub last_root_post_at: i64,
}

/// `model.ChannelMember`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ChannelMember {
    pub channel_id: String,
    pub user_id: String,
    pub roles: String,
    pub last_viewed_at: i64,
    pub msg_count: i64,
    pub mention_count: i64,
    pub mention_count_root: i64,
    pub urgent_mention_count: i64,
    pub msg_count_root: i64,
    pub notify_props: BTreeMap<String, String>,
    pub last_update_at: i64,
    pub scheme_guest: bool,
    pub scheme_user: bool,
    pub scheme_admin: bool,
    pub explicit_roles: String,
}

impl ChannelMember {
    /// A member with the default notify props the server gives a new member.
    pub fn new(channel_id: &str, user_id: &str, admin: bool, now: i64) -> ChannelMember {
        let notify_props = [
            ("desktop", "default"),
            ("email", "default"),
            ("ignore_channel_mentions", "default"),
            ("mark_unread", "all"),
            ("push", "default"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ChannelMember {
            channel_id: channel_id.to_string(),
            user_id: user_id.to_string(),
            roles: if admin {
                "channel_user channel_admin".into()
            } else {
                "channel_user".into()
            },
            notify_props,
            last_update_at: now,
            scheme_user: true,
            scheme_admin: admin,
            ..ChannelMember::default()
        }
    }
}

/// `model.Post`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Post {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub create_at: i64,
    #[serde(default)]
    pub update_at: i64,
    #[serde(default)]
    pub edit_at: i64,
    #[serde(default)]
    pub delete_at: i64,
    #[serde(default)]
    pub is_pinned: bool,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub root_id: String,
    #[serde(default)]
    pub original_id: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub post_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub props: Map<String, Value>,
    #[serde(default)]
    pub hashtags: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_ids: Vec<String>,
    #[serde(default)]
    pub pending_post_id: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_reactions: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    #[serde(default)]
    pub reply_count: i64,
    #[serde(default)]
    pub last_reply_at: i64,
    #[serde(default)]
    pub participants: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Post {
    /// `Post.StripActionIntegrations`: the copy every client gets (no integration URL or context).
    pub fn stripped(&self) -> Post {
        let mut post = self.clone();
        for action in actions_mut(&mut post.props) {
            action.remove("integration");
        }
        post
    }

    /// `Post.GenerateActionIds`: every action without an id gets one.
    pub fn generate_action_ids(&mut self) {
        for action in actions_mut(&mut self.props) {
            let missing = match action.get("id") {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if missing {
                action.insert("id".into(), Value::String(crate::ids::new_id()));
            }
        }
    }

    /// `Post.GetAction`: the action with this id among the attachments.
    pub fn action(&self, id: &str) -> Option<&Map<String, Value>> {
        attachments(&self.props)
            .flat_map(|a| {
                a.get("actions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter_map(Value::as_object)
            .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
    }

    /// The post as the JSON string events carry.
    pub fn to_event_string(&self) -> String {
        serde_json::to_string(&self.stripped()).unwrap_or_default()
    }
}

fn attachments(props: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    props
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn actions_mut(props: &mut Map<String, Value>) -> Vec<&mut Map<String, Value>> {
    let mut out = Vec::new();
    if let Some(Value::Array(list)) = props.get_mut("attachments") {
        for attachment in list.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Array(actions)) = attachment.get_mut("actions") {
                out.extend(actions.iter_mut().filter_map(Value::as_object_mut));
            }
        }
    }
    out
}

/// `model.Reaction`: every field is always sent (no `omitempty`); `remote_id` is `""` once
/// saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Reaction {
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub post_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub emoji_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub update_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub delete_at: i64,
    #[serde(default)]
    pub remote_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub channel_id: String,
}

/// `model.PostList`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PostList {
    pub order: Vec<String>,
    pub posts: BTreeMap<String, Post>,
    pub next_post_id: String,
    pub prev_post_id: String,
    pub has_next: bool,
    pub first_inaccessible_post_time: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Go decodes `null` into the zero value; so do we.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post_with_actions() -> Post {
        let props = json!({"attachments": [{"text": "t", "actions": [
            {"name": "A", "type": "button", "integration": {"url": "http://x", "context": {"k": 1}}},
            {"id": "keep", "name": "B", "type": "button", "integration": {"url": "http://y"}}
        ]}]});
        Post {
            props: props.as_object().cloned().unwrap(),
            ..Post::default()
        }
    }

    #[test]
    fn action_ids_are_generated_only_when_missing() {
        let mut post = post_with_actions();
        post.generate_action_ids();
        let actions = post.props["attachments"][0]["actions"].as_array().unwrap();
        assert_eq!(actions[0]["id"].as_str().unwrap().len(), 26);
        assert_eq!(actions[1]["id"], "keep");
        assert!(post.action("keep").is_some());
    }

    #[test]
    fn stripping_removes_integrations_but_keeps_the_original() {
        let post = post_with_actions();
        let stripped = post.stripped();
        let text = serde_json::to_string(&stripped).unwrap();
        assert!(!text.contains("integration"));
        assert!(post.action("keep").unwrap().contains_key("integration"));
    }

    #[test]
    fn plain_users_serialise_without_bot_fields() {
        let user = User {
            id: "u".into(),
            username: "a".into(),
            ..User::default()
        };
        let value = serde_json::to_value(&user).unwrap();
        assert!(value.get("is_bot").is_none());
        assert_eq!(value["delete_at"], 0);
    }
}
