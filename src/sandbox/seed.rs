//! The sandbox's starting data: teams, users (and the bot), channels, read from TOML.
//!
//! Format (every key optional unless marked *required*):
//!
//! ```toml
//! bot_token = "..."            # access token of the bot; the --bot-token option wins over it
//!
//! [[teams]]
//! name = "engineering"         # required: the team's URL name
//! display_name = "Engineering" # defaults to name
//! invite_only = false          # true: type "I" and allow_open_invite false
//!
//! [[users]]
//! username = "sysadmin"        # required
//! password = "Sys@dmin-sample1"  # required for non-bots (bots cannot log in)
//! email = "sysadmin@example.com" # defaults to <username>@sandbox.test
//! roles = "system_user system_admin"  # defaults to "system_user"
//! teams = ["engineering"]      # team names the user joins (and their town-square/off-topic)
//! bot = false                  # true: a bot account; the first bot gets the bot token
//! display_name = "sharebot"    # bots: shown as the first name; people: "First Last"
//! description = "..."          # bots: bot_description
//! deactivated = false          # true: a deactivated account (delete_at set; cannot log in)
//!
//! [[channels]]
//! team = "engineering"         # required
//! name = "admins"              # required
//! display_name = "Admins"      # defaults to name
//! private = true               # "P" when true, else "O"
//! members = ["sysadmin"]       # usernames; the first is the creator and channel admin
//!
//! [config]                     # a partial server configuration, as `PUT /api/v4/config/patch`
//! ServiceSettings = { PostEditTimeLimit = 300 }
//! TeamSettings = { MaxUsersPerTeam = 200 }
//! ```
//!
//! Every team also gets `town-square` and `off-topic`, as the real server creates them.

use serde::Deserialize;

/// The default seed, shipped beside this file.
const DEFAULT_SEED: &str = include_str!("default_seed.toml");

/// A parsed seed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub bot_token: Option<String>,
    #[serde(default)]
    pub teams: Vec<SeedTeam>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub channels: Vec<SeedChannel>,
    /// A partial server configuration merged over the defaults.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

/// A team of the seed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedTeam {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub invite_only: bool,
}

/// A user (or bot) of the seed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub bot: bool,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub deactivated: bool,
    /// A personal access token for this user (e.g. a second bot; the first bot's token is
    /// `bot_token`).
    #[serde(default)]
    pub token: Option<String>,
}

impl SeedUser {
    /// A system admin who signs in with `password` and belongs to `teams` (the bench's and
    /// the chaos run's admins).
    pub fn admin(username: String, password: &str, teams: &[&str]) -> SeedUser {
        SeedUser {
            username,
            password: Some(password.into()),
            email: None,
            roles: Some("system_user system_admin".into()),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            bot: false,
            display_name: None,
            description: None,
            deactivated: false,
            token: None,
        }
    }
}

/// A channel of the seed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedChannel {
    pub team: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read the seed file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid seed TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("invalid seed: {0}")]
    Invalid(String),
}

impl Default for Seed {
    fn default() -> Seed {
        Seed::parse(DEFAULT_SEED).unwrap_or(Seed {
            bot_token: None,
            teams: Vec::new(),
            users: Vec::new(),
            channels: Vec::new(),
            config: None,
        })
    }
}

impl Seed {
    /// Parses and checks a seed (names unique, references resolvable).
    pub fn parse(text: &str) -> Result<Seed, SeedError> {
        let seed: Seed = toml::from_str(text)?;
        seed.check()?;
        Ok(seed)
    }

    /// Reads and parses a seed file.
    pub fn from_file(path: &std::path::Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Seed::parse(&text)
    }

    /// The `[config]` table as the JSON of a config patch.
    pub(crate) fn config_patch(&self) -> Option<serde_json::Value> {
        self.config
            .as_ref()
            .and_then(|table| serde_json::to_value(table).ok())
    }

    fn check(&self) -> Result<(), SeedError> {
        let invalid = |m: String| Err(SeedError::Invalid(m));
        if let Some(patch) = self.config_patch() {
            if let Err(err) = super::model::config::ServerConfig::default().patched(&patch) {
                return invalid(format!("[config]: {err}"));
            }
        }
        let mut teams = std::collections::HashSet::new();
        for team in &self.teams {
            if !valid_name(&team.name) {
                return invalid(format!("team name {:?} is not a valid name", team.name));
            }
            if !teams.insert(team.name.as_str()) {
                return invalid(format!("team {:?} appears twice", team.name));
            }
        }
        let mut users = std::collections::HashSet::new();
        for user in &self.users {
            if !valid_name(&user.username) {
                return invalid(format!("username {:?} is not valid", user.username));
            }
            if !users.insert(user.username.as_str()) {
                return invalid(format!("user {:?} appears twice", user.username));
            }
            if !user.bot && user.password.as_deref().unwrap_or("").is_empty() {
                return invalid(format!("user {:?} needs a password", user.username));
            }
            if let Some(t) = user.teams.iter().find(|t| !teams.contains(t.as_str())) {
                return invalid(format!("user {:?}: unknown team {t:?}", user.username));
            }
        }
        for channel in &self.channels {
            if !teams.contains(channel.team.as_str()) {
                return invalid(format!(
                    "channel {:?}: unknown team {:?}",
                    channel.name, channel.team
                ));
            }
            if !valid_name(&channel.name) {
                return invalid(format!("channel name {:?} is not valid", channel.name));
            }
            if let Some(m) = channel.members.iter().find(|m| !users.contains(m.as_str())) {
                return invalid(format!("channel {:?}: unknown member {m:?}", channel.name));
            }
        }
        Ok(())
    }
}

/// Names as the server allows for teams, users and channels: lowercase letters, digits, `.`, `-`, `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_has_the_documented_accounts() {
        let seed = Seed::default();
        let names: Vec<_> = seed.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["engineering", "marketing", "shared-inbox"]);
        assert!(seed.teams[2].invite_only);
        let bot = seed.users.iter().find(|u| u.bot).unwrap();
        assert_eq!(bot.username, "sharebot");
        assert_eq!(seed.channels[0].name, "admins");
        assert!(seed.channels[0].private);
    }

    #[test]
    fn unknown_references_are_refused() {
        let err =
            Seed::parse("[[users]]\nusername = \"a\"\npassword = \"p\"\nteams = [\"nope\"]\n")
                .unwrap_err();
        assert!(err.to_string().contains("unknown team"), "{err}");
        let err = Seed::parse("[[users]]\nusername = \"a\"\n").unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        assert!(Seed::parse("surprise = 1\n").is_err());
        let err = Seed::parse("[config]\nServiceSettings = { PostEditTimeLimit = \"soon\" }\n")
            .unwrap_err();
        assert!(err.to_string().contains("[config]"), "{err}");
    }

    #[test]
    fn the_config_table_patches_the_defaults() {
        let seed =
            Seed::parse("[config]\nServiceSettings = { PostEditTimeLimit = 300 }\n").unwrap();
        let db = super::super::state::Db::from_seed(&seed, "token");
        assert_eq!(db.config.service_settings.post_edit_time_limit, 300);
        assert_eq!(db.config.team_settings.max_users_per_team, 50);
    }
}
