//! The server configuration (`model.Config`) as far as it changes what the sandbox does: the
//! real server's section and key names, its defaults (`server/public/model/config.go`
//! `SetDefaults`), read with `GET /api/v4/config` and changed with `PUT /api/v4/config/patch`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `TeamSettingsDefaultSiteName`.
pub const DEFAULT_SITE_NAME: &str = "Mattermost";
/// `SitenameMaxLength`, in bytes (Go's `len`).
const SITE_NAME_MAX_BYTES: usize = 30;
/// The error id of a site name over [`SITE_NAME_MAX_BYTES`].
pub const SITE_NAME_TOO_LONG: &str = "model.config.is_valid.sitename_length.app_error";

/// The modelled part of `model.Config`. Keys the sandbox does not model are accepted in a
/// patch and ignored, as Go's JSON decoder ignores unknown fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerConfig {
    pub service_settings: ServiceSettings,
    pub team_settings: TeamSettings,
    pub privacy_settings: PrivacySettings,
    pub rate_limit_settings: RateLimitSettings,
}

/// `ServiceSettings`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceSettings {
    /// Seconds after which a post's message can no longer be edited; `-1`: no limit.
    pub post_edit_time_limit: i64,
    pub enable_incoming_webhooks: bool,
    pub enable_post_username_override: bool,
    pub enable_post_icon_override: bool,
}

impl Default for ServiceSettings {
    fn default() -> ServiceSettings {
        ServiceSettings {
            post_edit_time_limit: -1,
            enable_incoming_webhooks: true,
            enable_post_username_override: false,
            enable_post_icon_override: false,
        }
    }
}

/// `TeamSettings`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TeamSettings {
    /// The organization's name as people see it (`GET /config/client` serves it); an empty
    /// one is set back to the default, as `SetDefaults` does.
    pub site_name: String,
    /// The most members a team may have (the server's default is 50).
    pub max_users_per_team: i64,
    /// Comma- or space-separated email domains every team member must have; empty: any.
    pub restrict_creation_to_domains: String,
}

impl Default for TeamSettings {
    fn default() -> TeamSettings {
        TeamSettings {
            site_name: DEFAULT_SITE_NAME.into(),
            max_users_per_team: 50,
            restrict_creation_to_domains: String::new(),
        }
    }
}

/// `PrivacySettings`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrivacySettings {
    pub show_email_address: bool,
    pub show_full_name: bool,
}

impl Default for PrivacySettings {
    fn default() -> PrivacySettings {
        PrivacySettings {
            show_email_address: true,
            show_full_name: true,
        }
    }
}

/// `RateLimitSettings` (off by default, as on the server).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RateLimitSettings {
    pub enable: bool,
    pub per_sec: u32,
    pub max_burst: u32,
    pub memory_store_size: u32,
    pub vary_by_remote_addr: bool,
    pub vary_by_user: bool,
    pub vary_by_header: String,
}

impl Default for RateLimitSettings {
    fn default() -> RateLimitSettings {
        RateLimitSettings {
            enable: false,
            per_sec: 10,
            max_burst: 100,
            memory_store_size: 10000,
            vary_by_remote_addr: true,
            vary_by_user: false,
            vary_by_header: String::new(),
        }
    }
}

impl ServerConfig {
    /// The configuration with `patch` (a partial `Config` object) merged in, key by key, as
    /// the server's `config/patch` does; `Err` names what does not fit a key's type.
    pub fn patched(&self, patch: &Value) -> Result<ServerConfig, String> {
        let mut current = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut current, patch);
        let mut config: ServerConfig =
            serde_json::from_value(current).map_err(|e| e.to_string())?;
        if config.team_settings.site_name.is_empty() {
            config.team_settings.site_name = DEFAULT_SITE_NAME.into();
        }
        Ok(config)
    }

    /// The error id of the first setting the server's `Config.IsValid` refuses, if any.
    pub fn invalid(&self) -> Option<&'static str> {
        (self.team_settings.site_name.len() > SITE_NAME_MAX_BYTES).then_some(SITE_NAME_TOO_LONG)
    }
}

/// Merges `patch` into `target`: objects key by key, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                    // A `null` in a partial config leaves the value as it is (Go's pointer
                    // fields: nil means "not given").
                    Some(_) if value.is_null() => {}
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_servers() {
        let config = ServerConfig::default();
        assert_eq!(config.service_settings.post_edit_time_limit, -1);
        assert!(config.service_settings.enable_incoming_webhooks);
        assert_eq!(config.team_settings.max_users_per_team, 50);
        assert!(config.privacy_settings.show_full_name);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["ServiceSettings"]["PostEditTimeLimit"], -1);
        assert_eq!(json["TeamSettings"]["RestrictCreationToDomains"], "");
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_ignores_unknown_keys() {
        let config = ServerConfig::default()
            .patched(&json!({
                "ServiceSettings": {"PostEditTimeLimit": 300, "SiteURL": "x"},
                "PrivacySettings": {"ShowFullName": false, "ShowEmailAddress": null},
                "EmailSettings": {"SendEmailNotifications": true},
            }))
            .unwrap();
        assert_eq!(config.service_settings.post_edit_time_limit, 300);
        assert!(config.service_settings.enable_incoming_webhooks);
        assert!(!config.privacy_settings.show_full_name);
        assert!(config.privacy_settings.show_email_address);
        let err = ServerConfig::default()
            .patched(&json!({"TeamSettings": {"MaxUsersPerTeam": "many"}}))
            .unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn the_site_name_defaults_and_is_limited_to_thirty_bytes() {
        let config = ServerConfig::default();
        assert_eq!(config.team_settings.site_name, "Mattermost");
        let emptied = config
            .patched(&json!({"TeamSettings": {"SiteName": ""}}))
            .unwrap();
        assert_eq!(emptied.team_settings.site_name, "Mattermost");
        let named = config
            .patched(&json!({"TeamSettings": {"SiteName": "Org B"}}))
            .unwrap();
        assert_eq!(named.team_settings.site_name, "Org B");
        assert_eq!(named.invalid(), None);
        let long = config
            .patched(&json!({"TeamSettings": {"SiteName": "é".repeat(16)}}))
            .unwrap();
        assert_eq!(long.invalid(), Some(SITE_NAME_TOO_LONG));
    }
}
