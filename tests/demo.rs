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
        "declined to receive this channel",
        "Org B · @sysadmin sees it in Marketing › Launch plan.",
        "Org A · @sysadmin sees the answer in ~launch-plan.",
        "| @sysadmin2 | request.rejected | Hiring · Org A |",
        "@sysadmin's DM about Roadmap sees:",
        "✔ Every step worked",
        "Roadmap waits for a decision.",
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
        "/actions/team",
        "/actions/accept",
        "/actions/reject",
        "arrive over the WebSocket",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Nothing is left to dig out by hand: the lines hold the real ids.
    assert!(
        !text.contains("<post id>") && !text.contains("id>"),
        "{text}"
    );
    // The lines work as printed: log in, pick a team, accept, and see the request decided.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(follow_the_printed_lines(&text));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "a clean stop on SIGTERM: {exit:?}");
}

/// The first printed `curl` line after the line holding `after` that contains `marker` (and
/// not `not`), as (method, URL, body): read as the shell reads it (quotes removed, `-d`
/// implies POST), from `curl` up to a pipe.
fn curl_line(text: &str, after: &str, marker: &str, not: &str) -> (String, String, Option<String>) {
    let line = text
        .lines()
        .skip_while(|l| !l.contains(after))
        .find(|l| l.contains("curl ") && l.contains(marker) && (not.is_empty() || !l.contains(not)))
        .unwrap_or_else(|| panic!("no curl line with {marker:?} in:\n{text}"));
    let command = &line[line.find("curl ").unwrap()..];
    let command = command.split(" | ").next().unwrap();
    let mut words = Vec::new();
    let (mut word, mut quote, mut any) = (String::new(), None, false);
    for c in command.chars() {
        match (quote, c) {
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    let (mut method, mut url, mut body) = (None, String::new(), None);
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        match w.as_str() {
            "-X" => method = it.next().cloned(),
            "-d" => body = it.next().cloned(),
            "-H" => {
                assert_eq!(it.next().unwrap(), "Authorization: Bearer $TOKEN");
            }
            w if w.starts_with("http") => url = w.to_string(),
            w => assert!(w.starts_with('-'), "unexpected {w:?} in {line}"),
        }
    }
    let method = method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.into());
    (method, url, body)
}

/// Sends a printed line with `token` for `$TOKEN`; the status and the body.
async fn send(
    http: &reqwest::Client,
    (method, url, body): &(String, String, Option<String>),
    token: &str,
) -> (u16, String) {
    let mut request = http.request(method.parse().unwrap(), url.as_str());
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.body(body.clone());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let token = response
        .headers()
        .get("token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.unwrap();
    (status, token.unwrap_or(text))
}

/// The comment before the lines about the request left pending.
const WAITING: &str = "is still waiting for review";

async fn follow_the_printed_lines(text: &str) {
    let http = reqwest::Client::new();
    let (status, token) = send(&http, &curl_line(text, "", "/users/login", ""), "").await;
    assert_eq!(status, 200, "{token}");
    let (status, dm) = send(
        &http,
        &curl_line(text, WAITING, "/channels/", "/actions/"),
        &token,
    )
    .await;
    assert!(status == 200 && dm.contains("Roadmap"), "{status} {dm}");
    let team = curl_line(text, WAITING, "/actions/team", "");
    assert!(team
        .2
        .as_deref()
        .is_some_and(|b| b.contains("selected_option")));
    let (status, answer) = send(&http, &team, &token).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = send(
        &http,
        &curl_line(text, WAITING, "/actions/accept", ""),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let read = curl_line(text, WAITING, "/api/v4/posts/", "/actions/");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, post) = send(&http, &read, &token).await;
        if status == 200 && post.contains("accepted into **Marketing** by @sysadmin") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the request was never decided: {post}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
