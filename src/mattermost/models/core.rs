//! Users, teams, channels and their memberships.

use serde::{Deserialize, Serialize};

use super::nullable;

/// A Mattermost user (`UserProfile`); `roles` is a space-separated list such as
/// `"system_user system_admin"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub username: String,
    pub email: String,
    pub nickname: String,
    pub first_name: String,
    pub last_name: String,
    pub position: String,
    pub roles: String,
    pub locale: String,
    pub is_bot: bool,
    /// Set when the user is a synthetic copy of a user from another organization.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
}

impl User {
    /// Whether `roles` contains `system_admin`: who may run admin commands and decide requests.
    pub fn is_system_admin(&self) -> bool {
        self.has_role("system_admin")
    }

    /// Whether the user holds the system role `role` (`roles` is space-separated).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.split_whitespace().any(|r| r == role)
    }

    /// Whether the user is live (`delete_at == 0` means not deactivated).
    pub fn is_active(&self) -> bool {
        self.delete_at == 0
    }
}

/// A team.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Team {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub display_name: String,
    pub name: String,
    pub description: String,
    /// `O` (open) or `I` (invite only).
    #[serde(rename = "type")]
    pub team_type: String,
    /// Email domains every member must have (shown to those who may manage the team).
    pub allowed_domains: String,
    /// Membership managed by synced groups.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub group_constrained: Option<bool>,
}

/// The part of the server configuration's `TeamSettings` that decides who may join a team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TeamSettings {
    pub max_users_per_team: i64,
    pub restrict_creation_to_domains: String,
}

impl Default for TeamSettings {
    /// The server's defaults.
    fn default() -> TeamSettings {
        TeamSettings {
            max_users_per_team: 50,
            restrict_creation_to_domains: String::new(),
        }
    }
}

/// A user's membership of a team (`TeamMember`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub roles: String,
    pub delete_at: i64,
    pub scheme_admin: bool,
    pub scheme_user: bool,
    pub scheme_guest: bool,
}

/// A channel. `channel_type` is `O` (public), `P` (private), `D` (direct) or `G` (group).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Channel {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub team_id: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub display_name: String,
    pub name: String,
    pub header: String,
    pub purpose: String,
    pub last_post_at: i64,
    pub creator_id: String,
    /// True while the channel is shared with at least one remote (`null` on old servers).
    #[serde(deserialize_with = "nullable")]
    pub shared: Option<bool>,
}

impl Channel {
    /// Whether the channel is shared with another organization.
    pub fn is_shared(&self) -> bool {
        self.shared.unwrap_or(false)
    }

    /// Whether the channel is archived.
    pub fn is_archived(&self) -> bool {
        self.delete_at != 0
    }
}

/// Body of `POST /api/v4/channels`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewChannel {
    pub team_id: String,
    pub name: String,
    pub display_name: String,
    /// `O` or `P`.
    #[serde(rename = "type")]
    pub channel_type: String,
    #[serde(default, skip_serializing_if = "super::is_empty_str")]
    pub purpose: String,
    #[serde(default, skip_serializing_if = "super::is_empty_str")]
    pub header: String,
}

/// A user's membership of a channel (`ChannelMember`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelMember {
    pub channel_id: String,
    pub user_id: String,
    pub roles: String,
    pub last_viewed_at: i64,
    pub msg_count: i64,
    pub mention_count: i64,
    pub last_update_at: i64,
    pub scheme_admin: bool,
    pub scheme_user: bool,
    pub scheme_guest: bool,
}
