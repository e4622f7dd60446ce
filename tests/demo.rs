//! `sharebot demo --once` as a new user runs it: it exits 0 and its transcript shows every
//! step's outcome, with the invitation's secrets never printed whole.

use std::process::Command;

#[test]
fn the_demo_plays_every_step_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
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
    // The bots' databases are where they were asked to be.
    assert!(dir.path().join("org-a.db").exists() && dir.path().join("org-b.db").exists());
}
