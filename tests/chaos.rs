//! A short `sharebot chaos` run as a subprocess, with a fixed seed: three replicas on the
//! PostgreSQL the tests use, faults of every kind, and nothing lost or duplicated.

use std::process::Command;

/// The server the storage tests use (see tests/support/db.rs), without its database.
fn server() -> String {
    std::env::var("SHAREBOT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The number after `label` in `text` (`leader changes 3;` → 3).
fn number_after(text: &str, label: &str) -> Option<u64> {
    let rest = &text[text.find(label)? + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_short_chaos_run_loses_and_doubles_nothing_across_failovers() {
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args([
            "chaos",
            "--seconds",
            "12",
            "--seed",
            "20",
            "--takeover-after-ms",
            "1000",
            "--settle-seconds",
            "30",
            "--database-url",
        ])
        .arg(server())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let text = format!("{stdout}{stderr}");
    if text.contains("cannot connect to PostgreSQL")
        && !std::env::var("CI").is_ok_and(|v| v == "true")
    {
        eprintln!("PostgreSQL is unreachable: the chaos run is skipped outside CI\n{text}");
        return;
    }
    assert!(out.status.success(), "{text}");
    assert!(stdout.contains("lost = 0, duplicated = 0"), "{text}");
    // Faults of several kinds were injected (one of each kind is planned in a run this long;
    // one that found no target, say no leader in a gap, is skipped and said so).
    let line = stdout
        .lines()
        .find(|l| l.contains("faults injected"))
        .unwrap_or_default();
    let kinds = [
        "kill -9 leader",
        "kill -9 follower",
        "dropped WebSockets",
        "forgotten WebSockets",
        "5xx storm",
        "429 storm",
        "lock connection reset",
        "SIGSTOP leader",
    ];
    let injected = kinds.iter().filter(|k| line.contains(*k)).count();
    assert!(
        injected >= 6,
        "only {injected} kinds of fault injected:\n{text}"
    );
    assert!(
        line.contains("kill -9 leader"),
        "the leader was never killed:\n{text}"
    );
    let changes = number_after(&stdout, "leader changes").unwrap_or(0);
    assert!(changes >= 1, "no leader change:\n{text}");
    // The people did something worth checking.
    assert!(
        number_after(&stdout, "requests").unwrap_or(0) >= 5,
        "{text}"
    );
    assert!(number_after(&stdout, "clicks").unwrap_or(0) >= 5, "{text}");
    assert!(
        number_after(&stdout, "commands").unwrap_or(0) >= 3,
        "{text}"
    );
}
