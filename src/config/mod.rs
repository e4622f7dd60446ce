//! Configuration: bot.toml plus `SHAREBOT_<SECTION>__<KEY>` environment variables, secrets only
//! from the environment or `*_file` keys, validated at start with errors that name the key.

mod keys;
mod secret;
mod source;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use keys::{KeySpec, ValueKind, KEYS};
pub use secret::{Secret, MASK};
pub use source::Origin;
use source::RawValues;

/// One problem with the configuration, naming the key (or environment variable) at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found, so an admin can fix them all in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// `team-name/channel-name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRef {
    pub team: String,
    pub channel: String,
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.team, self.channel)
    }
}

#[derive(Debug, Clone)]
pub struct MattermostConfig {
    /// Base URL without a trailing slash.
    pub url: String,
    pub token: Secret,
    pub admin_channel: ChannelRef,
    /// Create the admin channel and inbox team, and join them, when missing.
    pub create_missing: bool,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base URL without a trailing slash.
    pub public_url: String,
    pub secret: Secret,
    /// The key `secret` replaced: accepted to verify what it signed, never used to sign.
    pub previous_secret: Option<Secret>,
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub dialect: Dialect,
    /// The full connection URL, password included: a secret.
    pub url: Secret,
    /// The URL with any password masked, for logs and `check-config`.
    pub display_url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct ReviewConfig {
    pub inbox_team: String,
    pub reminder_after: Duration,
    pub reconcile_every: Duration,
    /// Pending requests older than this are declined; `None`: never.
    pub expire_after: Option<Duration>,
    /// The system roles whose holders are asked and may decide (at least one, no repeats).
    pub approvers: Vec<String>,
    /// A team's admins may accept into that team and reject.
    pub team_admins: bool,
}

/// The roles `review.approvers` may name: Mattermost's system admin and its delegated
/// Shared Channel Manager (`system_shared_channel_manager`, which holds
/// `manage_shared_channels`).
pub const APPROVER_ROLES: &[&str] = &["system_admin", "system_shared_channel_manager"];

/// `review.approvers`: role names separated by commas (or white space), each one of
/// [`APPROVER_ROLES`], at least one.
fn parse_approvers(v: &str) -> Result<Vec<String>, String> {
    let mut roles: Vec<String> = Vec::new();
    for role in v
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        if !APPROVER_ROLES.contains(&role) {
            let hint = keys::nearest(role, APPROVER_ROLES.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "`{role}` is not a role that can approve{hint}; use {}",
                APPROVER_ROLES.join(" or ")
            ));
        }
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_string());
        }
    }
    if roles.is_empty() {
        return Err(format!(
            "names no role; use at least one of {}",
            APPROVER_ROLES.join(", ")
        ));
    }
    Ok(roles)
}

/// Where message templates come from.
#[derive(Debug, Clone, Default)]
pub struct TemplatesConfig {
    /// A folder whose files override the built-in templates of the same name.
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// Which part of the configuration a command needs; keys outside it are neither required nor
/// checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every section, secrets included (`run`, `check-config`).
    All,
    /// Only `[database]` and `[log]` (`migrate`): no Mattermost token or signing secret.
    Database,
}

impl Scope {
    /// Whether keys of `section` are read and checked in this scope.
    pub fn covers(self, section: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Database => matches!(section, "database" | "log"),
        }
    }
}

/// The part of the configuration `sharebot migrate` needs: the database and logging.
#[derive(Debug, Clone)]
pub struct DatabaseOnlyConfig {
    pub database: DatabaseConfig,
    pub log: LogConfig,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mattermost: MattermostConfig,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub review: ReviewConfig,
    pub templates: TemplatesConfig,
    pub log: LogConfig,
    /// Each key's shown value (secrets masked) and origin, in [`KEYS`] order.
    pub effective: Vec<(String, String, Origin)>,
}

impl Config {
    /// Loads `file` (when given) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::load_from(file, &env)
    }

    /// Loads `file` (when given) and the given environment; every problem is reported.
    pub fn load_from(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        let (raw, errors) = source::gather(file, env, Scope::All);
        Parser { raw: &raw, errors }.build()
    }

    /// Loads only `[database]` and `[log]` from `file` (when given) and the process
    /// environment, for `sharebot migrate`: the Mattermost and server keys, secrets included,
    /// are not required.
    pub fn load_database(file: Option<&Path>) -> Result<DatabaseOnlyConfig, ConfigErrors> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::load_database_from(file, &env)
    }

    /// [`Config::load_database`] with the given environment.
    pub fn load_database_from(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<DatabaseOnlyConfig, ConfigErrors> {
        let (raw, errors) = source::gather(file, env, Scope::Database);
        Parser { raw: &raw, errors }.build_database_only()
    }

    /// The effective configuration as TOML, secrets masked, each key with its origin in a
    /// comment; numbers and booleans are written bare, everything else as a string.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for (path, shown, origin) in &self.effective {
            let (sec, key) = path.split_once('.').unwrap_or(("", path));
            if sec != section {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{sec}]\n"));
                section = sec;
            }
            let kind = KEYS
                .iter()
                .find(|spec| spec.path() == *path)
                .map_or(ValueKind::Text, |spec| spec.kind);
            let value = toml_value(kind, shown);
            out.push_str(&format!("{key} = {value}  # from {origin}\n"));
        }
        out
    }
}

/// `shown` as a TOML value of `kind`; text that does not parse as that kind stays a string.
fn toml_value(kind: ValueKind, shown: &str) -> toml::Value {
    let text = shown.trim();
    match kind {
        ValueKind::Integer => text.parse::<i64>().ok().map(toml::Value::Integer),
        ValueKind::Boolean => parse_bool(text).ok().map(toml::Value::Boolean),
        ValueKind::Text => None,
    }
    .unwrap_or_else(|| toml::Value::String(shown.to_string()))
}

/// Turns raw values into typed ones, collecting every error.
struct Parser<'a> {
    raw: &'a RawValues,
    errors: Vec<ConfigError>,
}

impl Parser<'_> {
    fn build(mut self) -> Result<Config, ConfigErrors> {
        let mm_url = self.parse("mattermost.url", parse_base_url);
        let token = self.secret("mattermost.token", parse_token);
        let admin_channel = self.parse("mattermost.admin_channel", parse_channel_ref);
        let create_missing = self.parse("mattermost.create_missing", parse_bool);
        let listen = self.parse("server.listen", |v| {
            v.parse::<SocketAddr>().map_err(|_| {
                format!("`{v}` is not an address with a port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
            })
        });
        let public_url = self.parse("server.public_url", parse_base_url);
        let signing = self.secret("server.secret", |v| {
            if v.chars().count() < 32 {
                Err("is too short: use at least 32 random characters (e.g. the output of `openssl rand -hex 32`)".into())
            } else {
                Ok(())
            }
        });
        let previous_secret = self.secret("server.previous_secret", |v| {
            if v.chars().count() < 32 {
                Err("is too short: it must be the old value of server.secret (at least 32 characters)".into())
            } else {
                Ok(())
            }
        });
        let database = self.database_config();
        let inbox_team = self.parse("review.inbox_team", |v| {
            parse_team_name(v).map(str::to_string)
        });
        let reminder_after = self.parse("review.reminder_after", |v| {
            parse_duration(v, Duration::from_secs(1))
        });
        let reconcile_every = self.parse("review.reconcile_every", |v| {
            parse_duration(v, Duration::from_secs(1))
        });
        let expire_after = self.parse("review.expire_after", |v| match v {
            "off" | "" => Ok(None),
            v => parse_duration(v, Duration::from_secs(1)).map(Some),
        });
        let approvers = self.parse("review.approvers", parse_approvers);
        let team_admins = self.parse("review.team_admins", parse_bool);
        let templates_dir = self.parse("templates.dir", |v| {
            Ok::<_, String>((!v.is_empty()).then(|| std::path::PathBuf::from(v)))
        });
        let log = self.log_config();

        let effective = self.effective();
        match (
            (mm_url, create_missing),
            token,
            admin_channel,
            listen,
            public_url,
            signing,
            database,
            inbox_team,
            reminder_after,
            reconcile_every,
            (expire_after, templates_dir),
            (approvers, team_admins),
            log,
        ) {
            (
                (Some(url), Some(create_missing)),
                Some(token),
                Some(admin_channel),
                Some(listen),
                Some(public_url),
                Some(secret),
                Some(database),
                Some(inbox_team),
                Some(reminder_after),
                Some(reconcile_every),
                (Some(expire_after), Some(templates_dir)),
                (Some(approvers), Some(team_admins)),
                Some(log),
            ) if self.errors.is_empty() => Ok(Config {
                mattermost: MattermostConfig {
                    url,
                    token,
                    admin_channel,
                    create_missing,
                },
                server: ServerConfig {
                    listen,
                    public_url,
                    secret,
                    previous_secret,
                },
                database,
                review: ReviewConfig {
                    inbox_team,
                    reminder_after,
                    reconcile_every,
                    expire_after,
                    approvers,
                    team_admins,
                },
                templates: TemplatesConfig { dir: templates_dir },
                log,
                effective,
            }),
            _ => Err(ConfigErrors(self.errors)),
        }
    }

    /// Only `[database]` and `[log]`, for `sharebot migrate`.
    fn build_database_only(mut self) -> Result<DatabaseOnlyConfig, ConfigErrors> {
        let database = self.database_config();
        let log = self.log_config();
        match (database, log) {
            (Some(database), Some(log)) if self.errors.is_empty() => {
                Ok(DatabaseOnlyConfig { database, log })
            }
            _ => Err(ConfigErrors(self.errors)),
        }
    }

    /// `database.url` (with `database.password`) and `database.max_connections`.
    fn database_config(&mut self) -> Option<DatabaseConfig> {
        let database = self.database();
        let max_connections = self.parse("database.max_connections", |v| match v.parse::<u32>() {
            Ok(n @ 1..=100) => Ok(n),
            _ => Err(format!("`{v}` is not a whole number from 1 to 100")),
        });
        let (dialect, url, display_url) = database?;
        Some(DatabaseConfig {
            dialect,
            url,
            display_url,
            max_connections: max_connections?,
        })
    }

    /// `log.level` and `log.format`.
    fn log_config(&mut self) -> Option<LogConfig> {
        let level = self.parse("log.level", |v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .map(|_| v.to_string())
                .map_err(|e| {
                    format!(
                        "`{v}` is not a log filter ({e}); use error, warn, info, debug or trace"
                    )
                })
        });
        let format = self.parse("log.format", |v| match v {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{v}` is not a log format; use pretty or json")),
        });
        Some(LogConfig {
            level: level?,
            format: format?,
        })
    }

    fn value(&self, key: &str) -> Option<&source::Raw> {
        self.raw.get(key)
    }

    fn parse<T>(&mut self, key: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.value(key)?;
        match f(raw.value.trim()) {
            Ok(v) => Some(v),
            Err(msg) => {
                let origin = raw.origin.clone();
                self.errors
                    .push(ConfigError::new(key, format!("{msg} (from {origin})")));
                None
            }
        }
    }

    /// Checks a secret without ever putting its value in an error.
    fn secret(
        &mut self,
        key: &str,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<Secret> {
        let raw = self.value(key)?;
        match check(&raw.value) {
            Ok(()) => Some(Secret::new(raw.value.clone())),
            Err(msg) => {
                let origin = raw.origin.clone();
                self.errors
                    .push(ConfigError::new(key, format!("{msg} (from {origin})")));
                None
            }
        }
    }

    fn database(&mut self) -> Option<(Dialect, Secret, String)> {
        let raw = self.value("database.url")?.clone();
        let password = self.value("database.password").cloned();
        let fail = |this: &mut Self, msg: String| {
            this.errors.push(ConfigError::new(
                "database.url",
                format!("{msg} (from {})", raw.origin),
            ));
            None
        };
        let text = raw.value.trim();
        if let Some(path) = text.strip_prefix("sqlite://") {
            if password.is_some() {
                self.errors.push(ConfigError::new(
                    "database.password",
                    "is only used with PostgreSQL; remove it or use a postgres:// database.url",
                ));
                return None;
            }
            if path.is_empty() {
                return fail(self, "names no file: write sqlite://sharebot.db or sqlite:///var/lib/sharebot/sharebot.db".into());
            }
            return Some((Dialect::Sqlite, Secret::new(text), text.to_string()));
        }
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return fail(
                self,
                "must start with sqlite:// or postgres://, e.g. sqlite://sharebot.db or postgres://sharebot@127.0.0.1:5432/sharebot".into(),
            );
        }
        let mut url = match url::Url::parse(text) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => u,
            _ => {
                return fail(
                    self,
                    "is not a valid PostgreSQL URL: postgres://USER@HOST:PORT/DATABASE".into(),
                )
            }
        };
        if url.password().is_some() {
            if matches!(raw.origin, Origin::File(_)) {
                return fail(
                    self,
                    "contains a password, and secrets must not be written in bot.toml: remove it from the URL and set SHAREBOT_DATABASE__PASSWORD or database.password_file".into(),
                );
            }
            if password.is_some() {
                return fail(
                    self,
                    "has a password and database.password is set too; keep only one".into(),
                );
            }
        }
        if let Some(pw) = password {
            if url.set_password(Some(&pw.value)).is_err() {
                return fail(
                    self,
                    "cannot carry a password (no user name in the URL?)".into(),
                );
            }
        }
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some(MASK));
        }
        Some((
            Dialect::Postgres,
            Secret::new(url.to_string()),
            shown.to_string(),
        ))
    }

    fn effective(&self) -> Vec<(String, String, Origin)> {
        KEYS.iter()
            .filter_map(|spec| {
                let path = spec.path();
                let raw = self.raw.get(&path)?;
                let shown = if spec.secret {
                    MASK.to_string()
                } else if path == "database.url" {
                    mask_url_password(&raw.value)
                } else {
                    raw.value.clone()
                };
                Some((path, shown, raw.origin.clone()))
            })
            .collect()
    }
}

/// A URL with its password (if any) replaced by the mask; unparsable text is masked whole
/// when it might hold a password.
fn mask_url_password(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(MASK));
            u.to_string()
        }
        Ok(_) => text.to_string(),
        Err(_) if text.contains('@') => MASK.to_string(),
        Err(_) => text.to_string(),
    }
}

fn parse_base_url(v: &str) -> Result<String, String> {
    let url = url::Url::parse(v).map_err(|e| {
        format!("`{v}` is not a valid URL ({e}); write e.g. https://chat.example.com")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{v}` must use http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{v}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{v}` must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("`{v}` is not true or false")),
    }
}

fn parse_token(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        Err("is empty".into())
    } else if v.chars().any(char::is_whitespace) {
        Err("contains white space; copy the token exactly as Mattermost showed it".into())
    } else {
        Ok(())
    }
}

/// Mattermost team names: 2–64 characters of `a-z 0-9 -`, starting and ending alphanumeric
/// (`model.IsValidTeamName`).
fn parse_team_name(v: &str) -> Result<&str, String> {
    let ok = (2..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "`{v}` is not a Mattermost team name (2 to 64 lower-case letters, digits and hyphens, as in the team's URL)"
        ))
    }
}

/// Channel names: 1–64 characters of `a-z 0-9 - _` (`model.IsValidChannelIdentifier`).
fn parse_channel_name(v: &str) -> Result<&str, String> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "`{v}` is not a Mattermost channel name (lower-case letters, digits, - and _, as in the channel's URL)"
        ))
    }
}

fn parse_channel_ref(v: &str) -> Result<ChannelRef, String> {
    let Some((team, channel)) = v.split_once('/') else {
        return Err(format!(
            "`{v}` must be team-name/channel-name, e.g. engineering/admins"
        ));
    };
    Ok(ChannelRef {
        team: parse_team_name(team)?.to_string(),
        channel: parse_channel_name(channel)?.to_string(),
    })
}

fn parse_duration(v: &str, min: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(v)
        .map_err(|_| format!("`{v}` is not a duration; write e.g. 30s, 15m, 24h"))?;
    if d < min {
        return Err(format!(
            "`{v}` is too short; the minimum is {}",
            humantime::format_duration(min)
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
