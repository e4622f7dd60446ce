//! `sharebot sandbox` as a process: the ready line, the generated token, clear start failures.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

fn sandbox_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sharebot"));
    command
        .arg("sandbox")
        .env_remove("SHAREBOT_SANDBOX_BOT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test]
async fn the_sandbox_prints_its_ready_line_serves_and_stops_on_sigterm() {
    let mut child = sandbox_command()
        .args(["--listen", "127.0.0.1:0", "--name", "alpha"])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("sandbox ready: ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let mut stderr = child.stderr.take().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let token = err
        .lines()
        .find_map(|l| l.strip_prefix("sandbox bot token (generated): "))
        .unwrap_or_else(|| panic!("no generated token in {err:?}"));
    assert_eq!(token.len(), 26);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("sandbox ready"), "exactly one ready line");
}

#[tokio::test]
async fn a_served_sandbox_answers_with_the_given_bot_token() {
    let mut child = sandbox_command()
        .args(["--listen", "127.0.0.1:0", "--bot-token", "given-token"])
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .trim_start_matches("sandbox ready: ")
        .to_string();
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v4/users/me"))
        .bearer_auth("given-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(me["username"], "sharebot");
}

#[test]
fn a_taken_port_or_a_bad_seed_stops_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = sandbox_command()
        .args(["--listen", &addr, "--bot-token", "t"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(output.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        "[[users]]\nusername = \"x\"\nteams = [\"missing\"]\npassword = \"p\"\n",
    )
    .unwrap();
    let output = sandbox_command()
        .args(["--listen", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("invalid seed") && err.contains("unknown team"),
        "{err}"
    );
}
