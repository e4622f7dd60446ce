//! The records a server keeps about its secure connections and shared channels
//! (`model.RemoteCluster`, `model.SharedChannel`, `model.SharedChannelRemote`), field for field.

use serde::{Deserialize, Serialize};

use super::super::error::{ApiResult, AppError};
use super::Channel;
use crate::ids::is_valid_id;

/// An invite not yet accepted has a site URL with this prefix (`model.SiteURLPending`).
pub const SITE_URL_PENDING: &str = "pending_";

/// A connection is offline after this long without a ping (`model.RemoteOfflineAfterMillis`).
pub const REMOTE_OFFLINE_AFTER_MS: i64 = 5 * 60 * 1000;

/// `model.RemoteCluster`, tokens included; clients only ever get [`RemoteCluster::sanitized`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RemoteCluster {
    pub remote_id: String,
    pub remote_team_id: String,
    pub name: String,
    pub display_name: String,
    pub site_url: String,
    pub default_team_id: String,
    pub create_at: i64,
    pub delete_at: i64,
    pub last_ping_at: i64,
    pub last_global_user_sync_at: i64,
    /// What the other side must present to us.
    pub token: String,
    /// What we present to the other side.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_token: String,
    pub topics: String,
    pub creator_id: String,
    pub plugin_id: String,
    pub options: i64,
}

impl RemoteCluster {
    /// `Sanitize`: the copy clients get, without either token.
    pub fn sanitized(&self) -> RemoteCluster {
        RemoteCluster {
            token: String::new(),
            remote_token: String::new(),
            ..self.clone()
        }
    }

    /// `IsConfirmed`: the other side accepted (the site URL is no longer a placeholder).
    pub fn is_confirmed(&self) -> bool {
        !self.site_url.is_empty() && !self.site_url.starts_with(SITE_URL_PENDING)
    }

    /// `IsOnline`: pinged within the last five minutes.
    pub fn is_online(&self, now: i64) -> bool {
        self.last_ping_at > now - REMOTE_OFFLINE_AFTER_MS
    }

    /// `PreSave`: the display name defaults to the name, the name is lower-cased; the
    /// creation time is `now` on this server's clock.
    pub fn pre_save(&mut self, now: i64) {
        if self.display_name.is_empty() {
            self.display_name = self.name.clone();
        }
        self.name = self.name.to_lowercase();
        if self.create_at == 0 {
            self.create_at = now;
        }
    }

    /// `IsValid` (after `pre_save`): ids, the name rule, a creation time.
    pub fn validate(&self) -> ApiResult<()> {
        let invalid = |what: &str| {
            AppError::new(
                400,
                &format!("model.cluster.is_valid.{what}.app_error"),
                format!("Invalid {what}."),
            )
        };
        if !is_valid_id(&self.remote_id) {
            return Err(invalid("id"));
        }
        if !valid_name(&self.name) {
            return Err(invalid("name"));
        }
        if self.create_at == 0 {
            return Err(invalid("create_at"));
        }
        if !is_valid_id(&self.creator_id) {
            return Err(invalid("id"));
        }
        if !self.default_team_id.is_empty() && !is_valid_id(&self.default_team_id) {
            return Err(invalid("id"));
        }
        Ok(())
    }

    /// `ToRemoteClusterInfo`: the public facts.
    pub fn info(&self) -> RemoteClusterInfo {
        RemoteClusterInfo {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            create_at: self.create_at,
            delete_at: self.delete_at,
            last_ping_at: self.last_ping_at,
        }
    }
}

/// `model.RemoteClusterInfo`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RemoteClusterInfo {
    pub name: String,
    pub display_name: String,
    pub create_at: i64,
    pub delete_at: i64,
    pub last_ping_at: i64,
}

/// `model.SharedChannel`: one per shared channel, on each server that has the channel.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SharedChannel {
    /// The channel's id.
    pub id: String,
    /// The team when it was shared or received; a move does not update it.
    pub team_id: String,
    /// True where the channel was shared from.
    pub home: bool,
    pub readonly: bool,
    pub name: String,
    pub display_name: String,
    pub purpose: String,
    pub header: String,
    pub creator_id: String,
    pub create_at: i64,
    pub update_at: i64,
    /// The connection the channel came from; empty on its home server.
    pub remote_id: String,
}

impl SharedChannel {
    /// The record of a channel shared from here (`remote_id` empty) or received from the
    /// connection `remote_id`, with the channel's current names.
    pub fn of(channel: &Channel, creator_id: &str, remote_id: &str, now: i64) -> SharedChannel {
        SharedChannel {
            id: channel.id.clone(),
            team_id: channel.team_id.clone(),
            home: remote_id.is_empty(),
            readonly: false,
            name: channel.name.clone(),
            display_name: channel.display_name.clone(),
            purpose: channel.purpose.clone(),
            header: channel.header.clone(),
            creator_id: creator_id.to_string(),
            create_at: now,
            update_at: now,
            remote_id: remote_id.to_string(),
        }
    }
}

/// `model.SharedChannelRemote`: a shared channel's link to one connection.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
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
    pub last_members_sync_at: i64,
}

/// Valid connection names (`model.RemoteCluster.IsValid`): 1–64 of `[a-zA-Z0-9._-]`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_to_64_of_the_server_characters() {
        assert!(valid_name("org-b.eu_1"));
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(!valid_name(""));
        assert!(!valid_name("org b"));
        assert!(!valid_name("org/b"));
    }

    #[test]
    fn confirmed_and_online_follow_the_site_url_and_the_last_ping() {
        let now = 10 * REMOTE_OFFLINE_AFTER_MS;
        let mut rc = RemoteCluster {
            site_url: format!("{SITE_URL_PENDING}abc"),
            last_ping_at: now - REMOTE_OFFLINE_AFTER_MS + 1,
            ..RemoteCluster::default()
        };
        assert!(!rc.is_confirmed());
        assert!(rc.is_online(now));
        rc.site_url = "https://b.example".into();
        assert!(rc.is_confirmed());
        rc.last_ping_at = now - REMOTE_OFFLINE_AFTER_MS;
        assert!(
            !rc.is_online(now),
            "offline after five minutes without a ping"
        );
        rc.token = "secret".into();
        rc.remote_token = "other".into();
        let shown = rc.sanitized();
        assert!(shown.token.is_empty() && shown.remote_token.is_empty());
    }
}
