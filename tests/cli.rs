//! The `sharebot` binary as an admin runs it: check-config, migrate and run, with exit codes,
//! messages naming the key at fault, and no secret in any output or log line.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "tokXYZ-recognisable-bot-token-7731";
const SIGNING: &str = "sig-recognisable-signing-secret-0123456789";

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml")
}

/// The binary with a clean environment (no stray SHAREBOT_*/RUST_LOG from the caller).
fn sharebot(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sharebot"));
    cmd.current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

fn with_secrets(cmd: &mut Command) -> &mut Command {
    cmd.env("SHAREBOT_MATTERMOST__TOKEN", TOKEN)
        .env("SHAREBOT_SERVER__SECRET", SIGNING)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn check_config_accepts_the_shipped_file_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["check-config", "--config"])
        .arg(shipped())
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("token = \"********\"  # from env SHAREBOT_MATTERMOST__TOKEN"),
        "{all}"
    );
    assert!(
        all.contains("admin_channel = \"engineering/admins\""),
        "{all}"
    );
    // Numbers and booleans are written as TOML numbers and booleans, not as strings.
    assert!(all.contains("max_connections = 5  # from "), "{all}");
    assert!(all.contains("create_missing = false  # from "), "{all}");
    assert!(!all.contains(TOKEN) && !all.contains(SIGNING), "{all}");
}

#[test]
fn the_default_file_is_bot_toml_in_the_working_directory_and_env_alone_works_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_secrets(&mut sharebot(dir.path()))
        .env("SHAREBOT_MATTERMOST__URL", "https://chat.example.com")
        .env("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "ops/admins")
        .env("SHAREBOT_SERVER__PUBLIC_URL", "https://bot.example.com")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::copy(shipped(), dir.path().join("bot.toml")).unwrap();
    let out = with_secrets(&mut sharebot(dir.path()))
        .arg("check-config")
        .output()
        .unwrap();
    assert!(text(&out).contains("# from bot.toml"), "{}", text(&out));
}

/// Runs check-config and expects exit code 2 with an error line naming `key`.
fn refused(dir: &Path, config: &Path, env: &[(&str, &str)], key: &str) -> String {
    let mut cmd = sharebot(dir);
    cmd.args(["check-config", "--config"]).arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!("  - {key}: ")),
        "expected an error naming {key}: {all}"
    );
    assert!(!all.contains(TOKEN) && !all.contains(SIGNING), "{all}");
    all
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("SHAREBOT_MATTERMOST__TOKEN", TOKEN),
        ("SHAREBOT_SERVER__SECRET", SIGNING),
    ];
    let shipped_text = std::fs::read_to_string(shipped()).unwrap();

    let typo = write(
        dir.path(),
        "typo.toml",
        &shipped_text.replace("admin_channel =", "admin_chanel ="),
    );
    let all = refused(dir.path(), &typo, &secrets, "mattermost.admin_chanel");
    assert!(
        all.contains("did you mean `mattermost.admin_channel`?"),
        "{all}"
    );

    let inline = write(
        dir.path(),
        "inline.toml",
        &shipped_text.replace("[server]", &format!("token = \"{TOKEN}\"\n[server]")),
    );
    let all = refused(dir.path(), &inline, &secrets[1..], "mattermost.token");
    assert!(
        all.contains("must not be written in bot.toml")
            && all.contains("SHAREBOT_MATTERMOST__TOKEN"),
        "{all}"
    );

    let bad_url = write(
        dir.path(),
        "url.toml",
        &shipped_text.replace("http://127.0.0.1:8065", "127.0.0.1 8065"),
    );
    refused(dir.path(), &bad_url, &secrets, "mattermost.url");

    let all = refused(dir.path(), &shipped(), &secrets[1..], "mattermost.token");
    assert!(all.contains("SHAREBOT_MATTERMOST__TOKEN"), "{all}");
    // The pointer goes to the documentation of every key, not to a --help that lists none.
    assert!(
        all.contains("See the configuration reference in README.md"),
        "{all}"
    );
    assert!(!all.contains("--help"), "{all}");
}

#[test]
fn migrate_creates_the_sqlite_file_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = with_secrets(&mut sharebot(dir.path()))
            .args(["migrate", "--config"])
            .arg(shipped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("is up to date (migrations applied: [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12])"));
    }
    assert!(dir.path().join("sharebot.db").exists());
}

#[test]
fn migrate_needs_only_the_database_url_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = sharebot(dir.path())
        .arg("migrate")
        .env("SHAREBOT_DATABASE__URL", "sqlite://only-the-database.db")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("is up to date"), "{all}");
    assert!(dir.path().join("only-the-database.db").exists());

    // run and check-config still require the secrets.
    for command in ["check-config", "run"] {
        let out = sharebot(dir.path())
            .arg(command)
            .env("SHAREBOT_DATABASE__URL", "sqlite://only-the-database.db")
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {all}");
        assert!(all.contains("  - mattermost.token: "), "{command}: {all}");
        assert!(all.contains("  - server.secret: "), "{command}: {all}");
    }
}

#[test]
fn run_without_mattermost_fails_clearly_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the token check cannot reach Mattermost.
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["run", "--config"])
        .arg(shipped())
        .env("SHAREBOT_MATTERMOST__URL", "http://127.0.0.1:1")
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(
            "error: cannot read the bot's own account on Mattermost at http://127.0.0.1:1"
        ),
        "{all}"
    );
    // What to do next: check the URL, or try sharebot without a server.
    let hint = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|line| line.starts_with("hint: "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("a hint line: {all}"));
    assert!(hint.contains("mattermost.url"), "{hint}");
    assert!(
        hint.contains("`sharebot demo`") && hint.contains("`sharebot sandbox`"),
        "{hint}"
    );
    assert!(
        !all.contains(TOKEN) && !all.contains(SIGNING),
        "a secret reached the output:\n{all}"
    );
}

#[test]
fn a_start_up_error_through_a_pipe_is_printed_once_and_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // `output()` pipes stdout and stderr: neither is a terminal.
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["run", "--config"])
        .arg(shipped())
        .env("SHAREBOT_MATTERMOST__URL", "http://127.0.0.1:1")
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    // The log lines are there (start-up is logged at info) but carry no colour codes.
    assert!(all.contains("starting sharebot"), "{all}");
    assert!(!all.contains("\u{1b}["), "colour codes in a pipe:\n{all}");
    assert_eq!(
        all.matches("cannot read the bot's own account").count(),
        1,
        "the error is printed once:\n{all}"
    );

    // The same for a database that cannot be reached.
    let out = sharebot(dir.path())
        .arg("migrate")
        .env(
            "SHAREBOT_DATABASE__URL",
            "postgres://bot@127.0.0.1:1/sharebot",
        )
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("\u{1b}["), "colour codes in a pipe:\n{all}");
    assert_eq!(
        all.matches("cannot connect to the database").count(),
        1,
        "the error is printed once:\n{all}"
    );
}

#[test]
fn the_help_describes_the_sandbox_logins_and_the_bot_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = sharebot(dir.path())
        .args(["sandbox", "--help"])
        .output()
        .unwrap();
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    for login in [
        "sysadmin / Sys@dmin-sample1",
        "sysadmin2 / Sys@dmin-sample2",
        "user-1 / SampleUs@r-1",
        "sharebot",
        "SHAREBOT_SANDBOX_BOT_TOKEN",
        "generated",
    ] {
        assert!(
            help.contains(login),
            "`sharebot sandbox --help` lacks {login}:\n{help}"
        );
    }

    let out = sharebot(dir.path()).arg("--help").output().unwrap();
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("sharebot check-config") && help.contains("sharebot sandbox"),
        "{help}"
    );
}

#[test]
fn run_connects_to_the_sandbox_serves_health_and_stops_on_sigterm_without_leaking_secrets() {
    const BOT_TOKEN: &str = "botTokenRecognisable0000zz";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt.block_on(support::harness::start(sharebot::sandbox::SandboxOptions {
        bot_token: Some(BOT_TOKEN.into()),
        ..Default::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut child = sharebot(dir.path())
        .args(["run", "--config"])
        .arg(shipped())
        .env("SHAREBOT_MATTERMOST__URL", sandbox.site_url())
        .env("SHAREBOT_MATTERMOST__TOKEN", BOT_TOKEN)
        .env("SHAREBOT_SERVER__SECRET", SIGNING)
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("SHAREBOT_LOG__FORMAT", "json")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Collect every log line; announce the address once the server listens.
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["message"] == "HTTP server listening" {
                    let _ = addr_tx.send(v["listen"].as_str().unwrap_or_default().to_string());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server starts listening");

    rt.block_on(async {
        let http = reqwest::Client::new();
        let health = http
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let mut ready = None;
        for _ in 0..200 {
            let res = http
                .get(format!("http://{addr}/readyz"))
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                ready = Some(res.json::<serde_json::Value>().await.unwrap());
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ready = ready.expect("ready once the WebSocket is connected");
        assert_eq!(ready["checks"]["database"], "ok");
        assert_eq!(ready["checks"]["mattermost"], "connected");
        let metrics = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        assert!(metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = metrics.text().await.unwrap();
        assert!(
            text.contains("route=\"/api/v4/users/me\",status=\"200\""),
            "{text}"
        );
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let logs = reader.join().unwrap();
    let mut stdout = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout);
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}\n{logs}");
    assert!(logs.contains("Mattermost checks passed"), "{logs}");
    assert!(logs.contains("shutdown requested"), "{logs}");
    for secret in [BOT_TOKEN, SIGNING] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
        assert!(!stdout.contains(secret));
    }
    rt.block_on(sandbox.shutdown());
}

#[test]
fn a_postgres_password_never_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: start-up fails, and the error must not show the password.
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["migrate", "--config"])
        .arg(shipped())
        .env(
            "SHAREBOT_DATABASE__URL",
            "postgres://bot@127.0.0.1:1/sharebot",
        )
        .env(
            "SHAREBOT_DATABASE__PASSWORD",
            "pw-recognisable-db-password-55",
        )
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!out.status.success());
    assert!(
        all.contains(
            "cannot connect to the database (postgres://bot:********@127.0.0.1:1/sharebot)"
        ),
        "{all}"
    );
    assert!(!all.contains("pw-recognisable-db-password-55"), "{all}");
}

#[test]
fn a_template_override_that_does_not_render_refuses_start_up_with_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    write(
        &templates,
        "reminder.md.j2",
        "Still waiting: {{ request.channel_display_name ",
    );
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["run", "--config"])
        .arg(shipped())
        .env("SHAREBOT_TEMPLATES__DIR", &templates)
        // Never reached: the templates are checked before anything is contacted.
        .env("SHAREBOT_MATTERMOST__URL", "http://127.0.0.1:1")
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("reminder.md.j2"), "{all}");
    assert!(
        !all.contains("cannot read the bot's own account"),
        "Mattermost was not contacted: {all}"
    );
}

#[test]
fn run_help_names_the_config_variable_without_showing_it_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["run", "check-config", "migrate"] {
        let out = sharebot(dir.path())
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = text(&out);
        assert!(out.status.success(), "{help}");
        assert!(help.contains("[env: SHAREBOT_CONFIG]"), "{command}: {help}");
        assert!(!help.contains("SHAREBOT_CONFIG="), "{command}: {help}");
    }
}

#[test]
fn a_broken_bot_toml_says_where_it_breaks_and_nothing_that_follows_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let shipped_text = std::fs::read_to_string(shipped()).unwrap();
    // An unclosed quote on the line of `admin_channel`.
    let line = shipped_text
        .lines()
        .position(|l| l.starts_with("admin_channel ="))
        .unwrap()
        + 1;
    let broken = write(
        dir.path(),
        "broken.toml",
        &shipped_text.replace(
            "admin_channel = \"engineering/admins\"",
            "admin_channel = \"engineering/admins",
        ),
    );
    let out = with_secrets(&mut sharebot(dir.path()))
        .args(["check-config", "--config"])
        .arg(&broken)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!("broken.toml:{line}:")),
        "no line number {line}:\n{all}"
    );
    assert!(all.contains("not valid TOML"), "{all}");
    // The offending line is shown with a caret under the place.
    assert!(
        all.contains("admin_channel = \"engineering/admins"),
        "{all}"
    );
    assert!(all.contains('^'), "{all}");
    assert!(!all.contains("is required"), "follow-on errors:\n{all}");
    assert_eq!(all.matches("  - ").count(), 1, "one error only:\n{all}");
}

/// Runs `sharebot migrate` against `url`; returns its exit code, the `error:` line and the
/// `hint:` line.
fn migrate_against(url: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = sharebot(dir.path())
        .arg("migrate")
        .env("SHAREBOT_DATABASE__URL", url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let line = |prefix: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no `{prefix}` line:\n{stderr}"))
    };
    (out.status.code(), line("error: "), line("hint: "))
}

#[test]
fn an_unreachable_database_names_the_cause_and_what_to_check() {
    // Nothing listens on port 1.
    let (code, error, hint) = migrate_against("postgres://bot@127.0.0.1:1/sharebot");
    assert_eq!(code, Some(1));
    assert!(error.contains("connection refused"), "{error}");
    assert!(!error.contains("pool timed out"), "{error}");
    assert!(hint.contains("database.url"), "{hint}");

    // The authentication and unknown-database causes need a PostgreSQL server to answer.
    let admin = url::Url::parse(
        &std::env::var("SHAREBOT_TEST_DATABASE_URL")
            .unwrap_or_else(|_| support::db::DEFAULT_PG.to_string()),
    )
    .unwrap();
    let address = format!(
        "{}:{}",
        admin.host_str().unwrap_or("127.0.0.1"),
        admin.port().unwrap_or(5432)
    );
    if std::net::TcpStream::connect(&address).is_err() {
        eprintln!("NOTICE: no PostgreSQL at {address}: only the refused connection was checked");
        return;
    }
    let mut unknown_user = admin.clone();
    unknown_user.set_username("sharebot_no_such_role").unwrap();
    let (code, error, hint) = migrate_against(unknown_user.as_str());
    assert_eq!(code, Some(1));
    assert!(error.contains("authentication failed"), "{error}");
    assert!(hint.contains("password"), "{hint}");

    let mut unknown_db = admin.clone();
    unknown_db.set_path("/sharebot_no_such_database");
    let (code, error, hint) = migrate_against(unknown_db.as_str());
    assert_eq!(code, Some(1));
    assert!(error.contains("the database does not exist"), "{error}");
    assert!(hint.contains("create the database"), "{hint}");
}

/// `sharebot run` on the shipped file against `site`, logging JSON to a pipe.
fn spawn_run(dir: &Path, site: &str, token: &str) -> std::process::Child {
    sharebot(dir)
        .args(["run", "--config"])
        .arg(shipped())
        .env("SHAREBOT_MATTERMOST__URL", site)
        .env("SHAREBOT_MATTERMOST__TOKEN", token)
        .env("SHAREBOT_SERVER__SECRET", SIGNING)
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("SHAREBOT_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a running child's "HTTP server listening" line; the rest of its log is drained.
fn wait_listening(child: &mut std::process::Child) -> bool {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("HTTP server listening") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).is_ok()
}

#[test]
fn a_second_process_on_one_sqlite_file_is_refused_and_a_killed_one_leaves_no_lock_behind() {
    const BOT_TOKEN: &str = "botTokenRecognisable0000zz";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt.block_on(support::harness::start(sharebot::sandbox::SandboxOptions {
        bot_token: Some(BOT_TOKEN.into()),
        ..Default::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn_run(dir.path(), sandbox.site_url(), BOT_TOKEN);
    assert!(wait_listening(&mut first), "the first process starts");

    let mut second = spawn_run(dir.path(), sandbox.site_url(), BOT_TOKEN);
    let mut stopped = None;
    for _ in 0..300 {
        stopped = second.try_wait().unwrap();
        if stopped.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if stopped.is_none() {
        second.kill().unwrap();
        first.kill().unwrap();
    }
    let second = second.wait_with_output().unwrap();
    let said = text(&second);
    assert!(
        stopped.is_some_and(|s| !s.success()),
        "the second process must stop with an error at start-up: {said}"
    );
    assert!(
        said.contains("another sharebot process already runs on the SQLite database"),
        "{said}"
    );
    assert!(said.contains("PostgreSQL"), "{said}");
    assert!(
        !said.contains("HTTP server listening"),
        "refused before serving: {said}"
    );

    // kill -9 leaves the lock file behind but not the lock: a restart is not blocked.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(dir.path().join("sharebot.db.lock").exists());
    let mut restarted = spawn_run(dir.path(), sandbox.site_url(), BOT_TOKEN);
    assert!(
        wait_listening(&mut restarted),
        "a process killed with SIGKILL must not block the next one"
    );
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    rt.block_on(sandbox.shutdown());
}
