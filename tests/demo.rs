//! `sharebot demo --once` as a new user runs it: it exits 0 and its transcript shows every
//! step's outcome, with the invitation's secrets never printed whole.

use std::process::Command;

#[test]
fn the_demo_plays_every_step_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // An earlier demo's database is there: its sandboxes are gone, so it must not be reused.
    let old = dir.path().join("org-a.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", old.display());
        let store = sharebot::store::Store::connect_url(&url, &url, 1)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.kv_put("earlier-demo", "yes").await.unwrap();
        store.close().await;
    });
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args(["demo", "--once", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for expected in [
        "Created the connection **Org B** (`orgb`)",
        "Invite code:",
        "Connected to **Org A** (`orga`), accepted by @sysadmin",
        "| Org B (`orgb`) | 🟢 Connected |",
        "| Org A (`orga`) | 🟢 Connected |",
        "~launch-plan is now shared with **Org B**.",
        "[ Team: choose… ▾ ] [ Accept ] [ Reject ] [ Choose team… ]",
        "accepted into", // wraps in the drawn box: the team is checked below
        "**Marketing** by @sysadmin",
        "rejected by @sysadmin2",
        "This channel was declined",
        "Org B · @sysadmin sees it in Marketing › Launch plan.",
        "Org A · @sysadmin sees the answer in ~launch-plan.",
        "| @sysadmin2 | request.rejected | Hiring · Org A |",
        "✔ Every step worked",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The secrets are shown by their first characters and length only.
    assert!(
        text.contains("(28 characters, shown in full only in the DM)"),
        "{text}"
    );
    // The bots' databases are where they were asked to be, said so, and fresh.
    assert!(dir.path().join("org-a.db").exists() && dir.path().join("org-b.db").exists());
    assert!(
        text.contains(&format!(
            "The bots' databases: {}",
            dir.path().join("org-a.db").display()
        )),
        "{text}"
    );
    assert!(text.contains("Starting fresh in"), "{text}");
    rt.block_on(async {
        let url = format!("sqlite://{}", old.display());
        let store = sharebot::store::Store::connect_url(&url, &url, 1)
            .await
            .unwrap();
        assert_eq!(store.kv_get("earlier-demo").await.unwrap(), None);
        store.close().await;
    });
}

#[test]
fn a_data_dir_holding_other_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args(["demo", "--once", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("notes.txt") && stderr.contains("--data-dir"),
        "{stderr}"
    );
    assert!(dir.path().join("notes.txt").exists());
}

/// The README's command as written (`sharebot demo`, no `--once`): after the story it keeps
/// everything running, prints how to carry on by hand, and stops cleanly on a signal.
#[test]
fn the_demo_keeps_running_with_instructions_until_it_is_stopped() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !text.contains("Press Ctrl-C to stop everything.") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the demo never said how to carry on:\n{text}");
            }
        }
    }
    for expected in [
        "Everything keeps running.",
        "sysadmin / Sys@dmin-sample1",
        "/api/v4/users/login",
        "\"message\":\"@sharebot shared\"",
        "/api/v4/channels/direct",
        "/actions/relocate",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "a clean stop on SIGTERM: {exit:?}");
}
