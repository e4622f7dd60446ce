//! The table of every configuration key: section, name, default, whether it is a secret, and help.

/// One configuration key.
#[derive(Debug)]
pub struct KeySpec {
    pub section: &'static str,
    pub key: &'static str,
    /// Secrets come only from the environment or from `<key>_file`.
    pub secret: bool,
    /// A value must be supplied (there is no default).
    pub required: bool,
    pub default: Option<&'static str>,
    /// How `check-config` writes the value: a TOML string, integer or boolean.
    pub kind: ValueKind,
    /// One line saying what the key is for and what form it takes.
    pub help: &'static str,
}

/// The TOML type of a key's value, as `check-config` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Integer,
    Boolean,
}

impl KeySpec {
    /// `section.key`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// `SHAREBOT_SECTION__KEY`.
    pub fn env_var(&self) -> String {
        env_var(self.section, self.key)
    }
}

/// The environment variable that sets `section.key`.
pub fn env_var(section: &str, key: &str) -> String {
    format!(
        "SHAREBOT_{}__{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

const fn key(
    section: &'static str,
    key: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> KeySpec {
    KeySpec {
        section,
        key,
        secret: false,
        required: default.is_none(),
        default,
        kind: ValueKind::Text,
        help,
    }
}

/// A key whose value is a TOML integer or boolean (it has a default).
const fn typed(
    section: &'static str,
    name: &'static str,
    kind: ValueKind,
    default: &'static str,
    help: &'static str,
) -> KeySpec {
    KeySpec {
        kind,
        ..key(section, name, Some(default), help)
    }
}

const fn secret(
    section: &'static str,
    key: &'static str,
    required: bool,
    help: &'static str,
) -> KeySpec {
    KeySpec {
        section,
        key,
        secret: true,
        required,
        default: None,
        kind: ValueKind::Text,
        help,
    }
}

/// Every key sharebot understands, in the order `check-config` prints them.
pub const KEYS: &[KeySpec] = &[
    key("mattermost", "url", None, "base URL of the Mattermost server, e.g. https://chat.example.com"),
    secret("mattermost", "token", true, "access token of the bot account, which needs the system_admin role"),
    key("mattermost", "admin_channel", None, "channel for @sharebot commands, as team-name/channel-name"),
    typed("mattermost", "create_missing", ValueKind::Boolean, "false", "at start, create the admin channel and inbox team and join them when missing (true) or stop with instructions (false)"),
    key("server", "listen", Some("127.0.0.1:8080"), "address the HTTP server (callbacks, health) listens on"),
    key("server", "public_url", None, "base URL at which Mattermost reaches this bot's HTTP server"),
    secret("server", "secret", true, "key that signs callback contexts; at least 32 characters"),
    secret("server", "previous_secret", false, "the key server.secret replaced: still accepted to verify, never to sign, while set"),
    key("database", "url", Some("sqlite://sharebot.db"), "sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB"),
    secret("database", "password", false, "PostgreSQL password, added to database.url"),
    typed("database", "max_connections", ValueKind::Integer, "5", "size of the database connection pool (1 to 100)"),
    key("review", "inbox_team", Some("shared-inbox"), "name of the holding team where channels wait for review"),
    key("review", "reminder_after", Some("24h"), "remind admins of a request still pending after this long"),
    key("review", "reconcile_every", Some("30s"), "how often to poll Mattermost for arrived shared channels"),
    key("review", "expire_after", Some("off"), "decline a request still pending after this long (e.g. 14d), or off"),
    key("review", "approvers", Some("system_admin"), "Mattermost roles whose holders get the review DMs and may decide: system_admin, system_shared_channel_manager (a list, or comma-separated)"),
    typed("review", "team_admins", ValueKind::Boolean, "false", "let a team's admins accept requests into that team (and reject them) when a rule or the request suggests it"),
    key("templates", "dir", Some(""), "folder of message template overrides, named as in templates/; empty: the built-in templates"),
    key("log", "level", Some("info"), "log filter (error, warn, info, debug, trace or a tracing directive); RUST_LOG overrides it"),
    key("log", "format", Some("pretty"), "log format: pretty or json"),
];

/// The sections, in order.
pub fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        if !out.contains(&k.section) {
            out.push(k.section);
        }
    }
    out
}

/// Looks a key up by section and name.
pub fn find(section: &str, key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.section == section && k.key == key)
}

/// The nearest valid name to `wanted` among `candidates`, when it is close enough to be a typo.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(wanted, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3) && *d < c.len().max(wanted.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Every name accepted in `section`: its keys, plus `<secret>_file` for secrets.
pub fn names_in(section: &str) -> Vec<String> {
    let mut out = Vec::new();
    for k in KEYS.iter().filter(|k| k.section == section) {
        out.push(k.key.to_string());
        if k.secret {
            out.push(format!("{}_file", k.key));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_unrelated_words() {
        let names = names_in("mattermost");
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(nearest("ulr", names.clone()), Some("url"));
        assert_eq!(
            nearest("admin_chanel", names.clone()),
            Some("admin_channel")
        );
        assert_eq!(nearest("tokenfile", names.clone()), Some("token_file"));
        assert_eq!(nearest("completely_different", names), None);
    }

    #[test]
    fn env_var_names_follow_the_documented_form() {
        assert_eq!(env_var("mattermost", "url"), "SHAREBOT_MATTERMOST__URL");
        assert_eq!(
            find("server", "secret").map(|k| k.env_var()),
            Some("SHAREBOT_SERVER__SECRET".into())
        );
    }

    #[test]
    fn every_secret_has_no_default_and_every_optional_key_has_one() {
        for k in KEYS {
            if k.secret {
                assert!(k.default.is_none(), "{}", k.path());
            } else {
                assert_eq!(k.required, k.default.is_none(), "{}", k.path());
            }
        }
    }
}
