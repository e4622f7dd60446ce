//! Secure connections (remote clusters) and shared channels.

use serde::{Deserialize, Serialize};

use super::is_empty_str;

/// How long without a ping before the server shows a connection as offline (5 minutes).
pub const REMOTE_OFFLINE_AFTER_MS: i64 = 5 * 60 * 1000;

/// A secure connection to another Mattermost (`RemoteCluster`, tokens already removed by the
/// server).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteCluster {
    pub remote_id: String,
    pub remote_team_id: String,
    pub name: String,
    pub display_name: String,
    /// `pending_…` until the other side accepted the invite.
    pub site_url: String,
    pub default_team_id: String,
    pub create_at: i64,
    pub delete_at: i64,
    pub last_ping_at: i64,
    pub last_global_user_sync_at: i64,
    pub topics: String,
    pub creator_id: String,
    pub plugin_id: String,
    /// Bitmask: 1 = auto-share DMs, 2 = auto-invited to all shared channels.
    pub options: u32,
}

impl RemoteCluster {
    /// Accepted by the other side: `site_url` is set and not a `pending_…` placeholder.
    pub fn is_confirmed(&self) -> bool {
        !self.site_url.is_empty() && !self.site_url.starts_with("pending_")
    }

    /// Pinged within the last five minutes, as the System Console computes it.
    pub fn is_online(&self, now_ms: i64) -> bool {
        self.last_ping_at > now_ms - REMOTE_OFFLINE_AFTER_MS
    }
}

/// Body of `POST /remotecluster`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRemoteCluster {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub display_name: String,
    /// Always sent: the server refuses a connection without a default team.
    pub default_team_id: String,
    /// Empty lets the server generate one (returned once in the answer).
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub password: String,
}

impl std::fmt::Debug for NewRemoteCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRemoteCluster")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("default_team_id", &self.default_team_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Answer of `POST /remotecluster`: the connection, its invite code and the password.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteClusterWithInvite {
    pub remote_cluster: RemoteCluster,
    /// Encrypted invite code to hand to the other organization.
    pub invite: String,
    /// Present only when the server generated it.
    pub password: String,
}

impl std::fmt::Debug for RemoteClusterWithInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClusterWithInvite")
            .field("remote_cluster", &self.remote_cluster)
            .field("invite", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Body of `PATCH /remotecluster/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteClusterPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_team_id: Option<String>,
}

/// Body of `POST /remotecluster/accept_invite`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AcceptInvite {
    pub invite: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub display_name: String,
    pub default_team_id: String,
    pub password: String,
}

impl std::fmt::Debug for AcceptInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptInvite")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("default_team_id", &self.default_team_id)
            .field("invite", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Public facts about a connection, visible to any member of a channel shared with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteClusterInfo {
    pub remote_id: String,
    pub name: String,
    pub display_name: String,
    pub create_at: i64,
    pub delete_at: i64,
    pub last_ping_at: i64,
    pub site_url: String,
}

/// A channel shared with other organizations (`SharedChannel`). Its `team_id` is not updated
/// when the channel is moved: read the channel for its real team.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedChannel {
    /// The channel's id.
    pub id: String,
    pub team_id: String,
    /// True on the organization that shared it, false where it was received.
    pub home: bool,
    pub readonly: bool,
    pub name: String,
    pub display_name: String,
    pub purpose: String,
    pub header: String,
    pub creator_id: String,
    pub create_at: i64,
    pub update_at: i64,
    /// The remote the channel came from (empty when `home`).
    pub remote_id: String,
}

/// The link between a shared channel and one remote (`SharedChannelRemote`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedChannelRemote {
    pub id: String,
    pub channel_id: String,
    pub creator_id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
    pub is_invite_accepted: bool,
    pub is_invite_confirmed: bool,
    pub remote_id: String,
    pub last_post_update_at: i64,
    pub last_post_id: String,
    pub last_post_create_at: i64,
    pub last_post_create_id: String,
}

/// Query of `GET /remotecluster`; `false`/`None` fields are not sent. `page: None` reads all pages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteClusterFilter {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub exclude_offline: bool,
    pub in_channel: Option<String>,
    pub not_in_channel: Option<String>,
    pub only_confirmed: bool,
    pub only_plugins: bool,
    pub exclude_plugins: bool,
    pub include_deleted: bool,
}

/// Query of `GET /remotecluster/{id}/sharedchannelremotes`; `false`/`None` fields are not sent.
/// `page: None` reads all pages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedChannelRemoteFilter {
    pub include_unconfirmed: bool,
    pub exclude_confirmed: bool,
    pub exclude_home: bool,
    pub exclude_remote: bool,
    pub include_deleted: bool,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}
