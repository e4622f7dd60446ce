//! Unit tests of configuration loading and validation.

use std::collections::HashMap;
use std::io::Write;

use super::*;

const TOKEN: &str = "tok3n-that-must-stay-hidden";
const SIGNING: &str = "0123456789abcdef0123456789abcdef-signing";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SHAREBOT_MATTERMOST__TOKEN", TOKEN),
        ("SHAREBOT_SERVER__SECRET", SIGNING),
    ]
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn shipped() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml")
}

fn errors_of<T>(result: Result<T, ConfigErrors>) -> Vec<ConfigError> {
    match result {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(ConfigErrors(errs)) => errs,
    }
}

#[test]
fn shipped_file_loads_with_secrets_from_env() {
    let cfg = Config::load_from(Some(&shipped()), &env(&secrets())).unwrap();
    assert_eq!(cfg.mattermost.url, "http://127.0.0.1:8065");
    assert_eq!(cfg.mattermost.token.expose(), TOKEN);
    assert_eq!(
        cfg.mattermost.admin_channel.to_string(),
        "engineering/admins"
    );
    assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.database.dialect, Dialect::Sqlite);
    assert_eq!(cfg.review.reminder_after, Duration::from_secs(24 * 3600));
    assert_eq!(cfg.review.reconcile_every, Duration::from_secs(30));
    assert_eq!(cfg.log.format, LogFormat::Pretty);
    let shown = cfg.render();
    assert!(
        !shown.contains(TOKEN) && !shown.contains(SIGNING),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "token = \"{MASK}\"  # from env SHAREBOT_MATTERMOST__TOKEN"
        )),
        "{shown}"
    );
}

#[test]
fn the_environment_alone_is_enough() {
    let mut vars = secrets();
    vars.extend([
        ("SHAREBOT_MATTERMOST__URL", "https://chat.example.com/"),
        ("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "ops/sharebot-admins"),
        ("SHAREBOT_SERVER__PUBLIC_URL", "https://bot.example.com"),
        ("SHAREBOT_CONFIG", "ignored.toml"),
        ("SHAREBOT_TEST_DATABASE_URL", "ignored"),
    ]);
    let cfg = Config::load_from(None, &env(&vars)).unwrap();
    assert_eq!(cfg.mattermost.url, "https://chat.example.com");
    assert_eq!(cfg.database.url.expose(), "sqlite://sharebot.db");
    assert_eq!(cfg.review.inbox_team, "shared-inbox");
    assert!(cfg
        .render()
        .contains("url = \"https://chat.example.com/\"  # from env SHAREBOT_MATTERMOST__URL"));
}

#[test]
fn environment_overrides_the_file() {
    let mut vars = secrets();
    vars.push(("SHAREBOT_REVIEW__RECONCILE_EVERY", "5s"));
    let cfg = Config::load_from(Some(&shipped()), &env(&vars)).unwrap();
    assert_eq!(cfg.review.reconcile_every, Duration::from_secs(5));
}

#[test]
fn a_misspelled_key_is_named_with_the_nearest_valid_one() {
    let f = file("[mattermost]\nulr = \"http://x\"\nadmin_channel = \"a1/b\"\n[server]\npublic_url = \"http://b\"\n");
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&secrets())));
    let e = errs
        .iter()
        .find(|e| e.key == "mattermost.ulr")
        .expect("names the key");
    assert!(e.message.contains("did you mean `mattermost.url`?"), "{e}");
}

#[test]
fn a_misspelled_section_and_env_var_are_named() {
    let f = file("[reveiw]\ninbox_team = \"x\"\n");
    let mut vars = secrets();
    vars.push(("SHAREBOT_MATTERMOST__TOKN", "x"));
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&vars)));
    assert!(
        errs.iter()
            .any(|e| e.key == "reveiw" && e.message.contains("did you mean [review]?")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.key == "SHAREBOT_MATTERMOST__TOKN"
            && e.message.contains("SHAREBOT_MATTERMOST__TOKEN")),
        "{errs:?}"
    );
}

#[test]
fn an_inline_secret_is_refused_with_how_to_pass_it() {
    let f = file("[mattermost]\nurl = \"http://x\"\ntoken = \"abc\"\n");
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&secrets())));
    let e = errs.iter().find(|e| e.key == "mattermost.token").unwrap();
    assert!(
        e.message.contains("SHAREBOT_MATTERMOST__TOKEN") && e.message.contains("token_file"),
        "{e}"
    );
    assert!(!e.message.contains("abc"));
}

#[test]
fn a_database_password_in_the_file_is_refused_but_allowed_from_env() {
    let f = file("[database]\nurl = \"postgres://bot:pw123@db:5432/sharebot\"\n");
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&secrets())));
    let e = errs.iter().find(|e| e.key == "database.url").unwrap();
    assert!(
        e.message.contains("SHAREBOT_DATABASE__PASSWORD") && !e.message.contains("pw123"),
        "{e}"
    );

    let mut vars = secrets();
    vars.push((
        "SHAREBOT_DATABASE__URL",
        "postgres://bot:pw123@db:5432/sharebot",
    ));
    let cfg = Config::load_from(Some(&shipped()), &env(&vars)).unwrap();
    assert_eq!(cfg.database.dialect, Dialect::Postgres);
    assert!(!cfg.database.display_url.contains("pw123"));
    assert!(!cfg.render().contains("pw123"));
}

#[test]
fn database_password_is_merged_into_the_url() {
    let mut vars = secrets();
    vars.push(("SHAREBOT_DATABASE__URL", "postgres://bot@db:5432/sharebot"));
    vars.push(("SHAREBOT_DATABASE__PASSWORD", "s3cr3t/pw"));
    let cfg = Config::load_from(Some(&shipped()), &env(&vars)).unwrap();
    assert!(
        cfg.database.url.expose().contains("s3cr3t%2Fpw@db"),
        "{}",
        cfg.database.url.expose()
    );
    assert!(cfg.database.display_url.contains(MASK));
}

#[test]
fn a_secret_can_come_from_a_file() {
    let secret_file = file(&format!("{TOKEN}\n"));
    let f = file(&format!(
        "[mattermost]\nurl = \"http://x\"\nadmin_channel = \"ab/c\"\ntoken_file = \"{}\"\n[server]\npublic_url = \"http://y\"\n",
        secret_file.path().display()
    ));
    let cfg = Config::load_from(
        Some(f.path()),
        &env(&[("SHAREBOT_SERVER__SECRET", SIGNING)]),
    )
    .unwrap();
    assert_eq!(cfg.mattermost.token.expose(), TOKEN);
    assert!(cfg.render().contains("# from file"));
}

#[test]
fn a_missing_secret_file_is_named() {
    let mut vars = secrets();
    vars.retain(|(k, _)| *k != "SHAREBOT_MATTERMOST__TOKEN");
    vars.push((
        "SHAREBOT_MATTERMOST__TOKEN_FILE",
        "/nonexistent/sharebot-token",
    ));
    let errs = errors_of(Config::load_from(Some(&shipped()), &env(&vars)));
    assert!(errs
        .iter()
        .any(|e| e.key == "mattermost.token_file"
            && e.message.contains("/nonexistent/sharebot-token")));
}

#[test]
fn a_missing_token_is_named_with_how_to_set_it() {
    let errs = errors_of(Config::load_from(
        Some(&shipped()),
        &env(&[("SHAREBOT_SERVER__SECRET", SIGNING)]),
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "mattermost.token");
    assert!(errs[0].message.contains("SHAREBOT_MATTERMOST__TOKEN"));
}

#[test]
fn bad_values_are_named() {
    let cases = [
        ("SHAREBOT_MATTERMOST__URL", "not a url", "mattermost.url"),
        (
            "SHAREBOT_MATTERMOST__URL",
            "ftp://chat.example.com",
            "mattermost.url",
        ),
        (
            "SHAREBOT_MATTERMOST__URL",
            "https://user:pw@chat.example.com",
            "mattermost.url",
        ),
        (
            "SHAREBOT_SERVER__PUBLIC_URL",
            "localhost:8080",
            "server.public_url",
        ),
        (
            "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
            "admins",
            "mattermost.admin_channel",
        ),
        (
            "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
            "Engineering/Admins",
            "mattermost.admin_channel",
        ),
        ("SHAREBOT_SERVER__LISTEN", "8080", "server.listen"),
        ("SHAREBOT_SERVER__SECRET", "zq9xv", "server.secret"),
        ("SHAREBOT_DATABASE__URL", "mysql://x/y", "database.url"),
        (
            "SHAREBOT_DATABASE__MAX_CONNECTIONS",
            "0",
            "database.max_connections",
        ),
        (
            "SHAREBOT_REVIEW__REMINDER_AFTER",
            "tomorrow",
            "review.reminder_after",
        ),
        (
            "SHAREBOT_REVIEW__RECONCILE_EVERY",
            "10ms",
            "review.reconcile_every",
        ),
        ("SHAREBOT_REVIEW__INBOX_TEAM", "-x-", "review.inbox_team"),
        ("SHAREBOT_LOG__FORMAT", "xml", "log.format"),
        ("SHAREBOT_LOG__LEVEL", "[[[", "log.level"),
    ];
    for (var, value, key) in cases {
        let mut vars = secrets();
        vars.retain(|(k, _)| *k != var);
        vars.push((var, value));
        let errs = errors_of(Config::load_from(Some(&shipped()), &env(&vars)));
        assert!(errs.iter().any(|e| e.key == key), "{var}={value}: {errs:?}");
        if key == "server.secret" {
            assert!(
                errs.iter().all(|e| !e.message.contains(value)),
                "secret leaked: {errs:?}"
            );
        }
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let f = file("[mattermost]\nurl = \"nope\"\nextra = 1\n");
    let errs = errors_of(Config::load_from(Some(f.path()), &HashMap::new()));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    for k in [
        "mattermost.extra",
        "mattermost.token",
        "mattermost.admin_channel",
        "server.public_url",
        "server.secret",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

#[test]
fn invalid_toml_is_reported() {
    let f = file("[mattermost\nurl=");
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&secrets())));
    assert!(
        errs.iter()
            .any(|e| e.key == "--config" && e.message.contains("not valid TOML")),
        "{errs:?}"
    );
    // Where it breaks, and nothing that only follows from it (no "is required").
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].message.contains(":1:12: not valid TOML"),
        "{errs:?}"
    );
}

#[test]
fn a_broken_line_that_may_hold_a_secret_is_not_shown() {
    let f = file("[database]\nurl = \"postgres://bot:hunter2@db/x");
    let errs = errors_of(Config::load_from(Some(f.path()), &env(&secrets())));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].message.contains(":2:"), "{errs:?}");
    assert!(!errs[0].message.contains("hunter2"), "{errs:?}");
}

#[test]
fn the_readme_documents_every_key() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let shipped = std::fs::read_to_string(shipped()).unwrap();
    for spec in KEYS {
        assert!(
            readme.contains(&format!("| `{}`", spec.path())),
            "README lacks {}",
            spec.path()
        );
        let key = if spec.secret {
            format!("# Secret: {}", spec.env_var())
        } else {
            format!("{} = ", spec.key)
        };
        assert!(shipped.contains(&key), "bot.toml lacks {key}");
    }
}

#[test]
fn render_writes_numbers_and_booleans_as_toml_and_strings_quoted() {
    let mut vars = secrets();
    vars.push(("SHAREBOT_DATABASE__MAX_CONNECTIONS", " 7 "));
    let cfg = Config::load_from(Some(&shipped()), &env(&vars)).unwrap();
    let shown = cfg.render();
    assert!(
        shown.contains("max_connections = 7  # from env SHAREBOT_DATABASE__MAX_CONNECTIONS"),
        "{shown}"
    );
    assert!(shown.contains("create_missing = false  # from "), "{shown}");
    assert!(
        shown.contains("url = \"sqlite://sharebot.db\"  # from "),
        "{shown}"
    );
    assert!(
        shown.contains("reconcile_every = \"30s\"  # from "),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("secret = \"{MASK}\"  # from ")),
        "{shown}"
    );
    assert!(
        !shown.contains(TOKEN) && !shown.contains(SIGNING),
        "{shown}"
    );
    // The text is TOML: every value reads back with its type.
    let body: String = shown
        .lines()
        .map(|line| line.split("  # from ").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let table: toml::Table = body.parse().expect("render writes TOML");
    assert_eq!(table["database"]["max_connections"].as_integer(), Some(7));
    assert_eq!(table["mattermost"]["create_missing"].as_bool(), Some(false));
    assert_eq!(table["log"]["level"].as_str(), Some("info"));
}

#[test]
fn the_database_scope_needs_no_mattermost_key_and_no_secret() {
    let cfg = Config::load_database_from(
        None,
        &env(&[("SHAREBOT_DATABASE__URL", "sqlite://migrate-only.db")]),
    )
    .unwrap();
    assert_eq!(cfg.database.url.expose(), "sqlite://migrate-only.db");
    assert_eq!(cfg.database.max_connections, 5);
    assert_eq!(cfg.log.format, LogFormat::Pretty);

    // The shipped file without any secret is enough, and the whole configuration still is not.
    let cfg = Config::load_database_from(Some(&shipped()), &HashMap::new()).unwrap();
    assert_eq!(cfg.database.dialect, Dialect::Sqlite);
    let errs = errors_of(Config::load_from(Some(&shipped()), &HashMap::new()));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["mattermost.token", "server.secret"]);

    // Keys outside the scope are not checked, and their secret files are not opened.
    let cfg = Config::load_database_from(
        Some(&shipped()),
        &env(&[
            ("SHAREBOT_MATTERMOST__URL", "not a url"),
            (
                "SHAREBOT_MATTERMOST__TOKEN_FILE",
                "/nonexistent/sharebot-token",
            ),
        ]),
    );
    assert!(cfg.is_ok(), "{:?}", cfg.err());
}

#[test]
fn the_database_scope_still_checks_the_database_the_log_and_the_file() {
    let errs = errors_of(Config::load_database_from(
        None,
        &env(&[
            ("SHAREBOT_DATABASE__URL", "mysql://x/y"),
            ("SHAREBOT_LOG__FORMAT", "xml"),
        ]),
    ));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["database.url", "log.format"]);

    // An unknown key and a secret written inline are refused whatever the scope.
    let f = file("[mattermost]\ntoken = \"inline-token-value\"\nulr = \"x\"\n");
    let errs = errors_of(Config::load_database_from(Some(f.path()), &HashMap::new()));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"mattermost.token"), "{errs:?}");
    assert!(keys.contains(&"mattermost.ulr"), "{errs:?}");
    assert!(errs
        .iter()
        .all(|e| !e.message.contains("inline-token-value")));
}

/// The README's way to run: the signing secret kept in a file, and the replaced one beside it
/// during a change; neither may be written in bot.toml.
#[test]
fn the_signing_secret_and_the_previous_one_come_from_files_never_inline() {
    let current = file(&format!("{SIGNING}\n"));
    let previous = file("an-older-signing-secret-0123456789abcdef\n");
    let cfg = Config::load_from(
        Some(&shipped()),
        &env(&[
            ("SHAREBOT_MATTERMOST__TOKEN", TOKEN),
            (
                "SHAREBOT_SERVER__SECRET_FILE",
                current.path().to_str().unwrap(),
            ),
            (
                "SHAREBOT_SERVER__PREVIOUS_SECRET_FILE",
                previous.path().to_str().unwrap(),
            ),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.server.secret.expose(), SIGNING);
    assert_eq!(
        cfg.server.previous_secret.as_ref().map(|s| s.expose()),
        Some("an-older-signing-secret-0123456789abcdef")
    );
    assert!(!cfg.render().contains("an-older-signing"));
    let without = Config::load_from(Some(&shipped()), &env(&secrets())).unwrap();
    assert!(without.server.previous_secret.is_none());

    let inline = file(
        "[mattermost]\nurl = \"http://x\"\nadmin_channel = \"ab/c\"\n[server]\npublic_url = \"http://y\"\nprevious_secret = \"an-older-signing-secret-0123456789abcdef\"\n",
    );
    let errs = errors_of(Config::load_from(Some(inline.path()), &env(&secrets())));
    assert!(
        errs.iter().any(|e| e.key == "server.previous_secret"
            && e.message.contains("must not be written in bot.toml")),
        "{errs:?}"
    );
    let short = errors_of(Config::load_from(
        Some(&shipped()),
        &env(&[
            ("SHAREBOT_MATTERMOST__TOKEN", TOKEN),
            ("SHAREBOT_SERVER__SECRET", SIGNING),
            ("SHAREBOT_SERVER__PREVIOUS_SECRET", "short"),
        ]),
    ));
    assert!(
        short.iter().any(|e| e.key == "server.previous_secret"),
        "{short:?}"
    );
}

#[test]
fn approvers_are_known_roles_from_a_list_or_commas_and_team_admins_a_boolean() {
    let cfg = Config::load_from(Some(&shipped()), &env(&secrets())).unwrap();
    assert_eq!(cfg.review.approvers, ["system_admin"]);
    assert!(!cfg.review.team_admins);
    let mut vars = secrets();
    vars.push((
        "SHAREBOT_REVIEW__APPROVERS",
        "system_admin, system_shared_channel_manager,system_admin",
    ));
    vars.push(("SHAREBOT_REVIEW__TEAM_ADMINS", "true"));
    let cfg = Config::load_from(Some(&shipped()), &env(&vars)).unwrap();
    assert_eq!(
        cfg.review.approvers,
        ["system_admin", "system_shared_channel_manager"]
    );
    assert!(cfg.review.team_admins);
    let text = std::fs::read_to_string(shipped()).unwrap().replace(
        "approvers = [\"system_admin\"]",
        "approvers = [\"system_shared_channel_manager\"]",
    );
    let listed = file(&text);
    let cfg = Config::load_from(Some(listed.path()), &env(&secrets())).unwrap();
    assert_eq!(cfg.review.approvers, ["system_shared_channel_manager"]);
    for (value, says) in [
        (
            "system_shared_chanel_manager",
            "did you mean `system_shared_channel_manager`?",
        ),
        ("team_admin", "is not a role that can approve"),
        (" , ", "names no role"),
    ] {
        let mut vars = secrets();
        vars.push(("SHAREBOT_REVIEW__APPROVERS", value));
        let errors = errors_of(Config::load_from(Some(&shipped()), &env(&vars)));
        assert!(
            errors
                .iter()
                .any(|e| e.key == "review.approvers" && e.message.contains(says)),
            "{value:?}: {errors:?}"
        );
    }
}
