//! A small `sharebot bench` run as a subprocess, twice each: every scenario reports its
//! figures as a median and a range with a floor and a ratio, and nothing is lost or duplicated. The figures themselves are for the
//! README, not asserted here.

use std::process::Command;

#[test]
fn a_small_bench_reports_every_scenario_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args([
            "bench",
            "--latency-ms",
            "5",
            "--admins",
            "4",
            "--decision-admins",
            "3",
            "--channels",
            "6",
            "--rate-limit",
            "40",
            "--clicks-per-sec",
            "20",
            "--click-seconds",
            "1",
            "--footprint-requests",
            "10",
            "--rest-connections",
            "3",
            "--rest-channels",
            "2",
            "--rest-period-s",
            "1",
            "--rest-passes",
            "2",
            "--runs",
            "2",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let text = format!("{stdout}{stderr}");
    assert!(out.status.success(), "{text}");
    let figures: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = figures
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "click answer p50",
        "click answer p99",
        "decision applied (3 admins)",
        "fan-out to 4 admins",
        "burst: 6 channels × 2 admins at 40/s",
        "RSS idle after start",
        "RSS with 10 pending requests",
        "database size",
        "requests per pass at rest",
        "requests per minute at rest",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    let mut seen = names.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), names.len(), "a figure listed twice: {names:?}");
    for f in &figures {
        assert!(f["measured"].as_f64().unwrap() > 0.0, "{f}");
        // Two runs each: the median is the figure, inside the range of the runs.
        assert_eq!(f["runs"], 2, "{f}");
        let (median, min, max) = (
            f["median"].as_f64().unwrap(),
            f["min"].as_f64().unwrap(),
            f["max"].as_f64().unwrap(),
        );
        assert_eq!(f["measured"].as_f64().unwrap(), median, "{f}");
        assert!(min <= median && median <= max && min > 0.0, "{f}");
        assert_eq!(f["lost"], 0, "{f}");
        assert_eq!(f["duplicated"], 0, "{f}");
        let name = f["name"].as_str().unwrap();
        // Memory has a target, the database size neither, every other figure a floor.
        let bound = if name.starts_with("RSS") {
            assert!(f["floor"].is_null(), "{f}");
            f["target"].as_f64().unwrap()
        } else if name == "database size" {
            assert!(f["floor"].is_null() && f["target"].is_null(), "{f}");
            0.0
        } else {
            assert!(f["target"].is_null(), "{f}");
            f["floor"].as_f64().unwrap()
        };
        if bound > 0.0 {
            let ratio = f["ratio"].as_f64().unwrap();
            assert!((ratio - median / bound).abs() < 1e-9, "{f}");
            let worst = f["worst_ratio"].as_f64().unwrap();
            assert!((worst - max / bound).abs() < 1e-9, "{f}");
        } else {
            assert!(f["ratio"].is_null() && f["worst_ratio"].is_null(), "{f}");
        }
        // A target is met only when the worst run meets it.
        if name.starts_with("RSS") {
            assert_eq!(f["met"].as_bool().unwrap(), max <= bound, "{f}");
        } else {
            assert!(f["met"].is_null(), "{f}");
        }
    }
    assert!(
        stdout.contains(
            "| scenario | runs | measured | min–max | floor or target | ratio | worst | met |"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("MB target |"), "{stdout}");
    assert!(stdout.contains("| database size |"), "{stdout}");
    for word in [
        "measured:",
        "min–max:",
        "floor:",
        "target:",
        "ratio:",
        "worst:",
        "lost:",
        "duplicated:",
    ] {
        assert!(stdout.contains(word), "{word} not explained:\n{stdout}");
    }
    // The long steps say how far they are, on standard error only.
    for step in ["  burst: ", "  footprint: "] {
        assert!(stderr.contains(step), "no progress for {step}:\n{stderr}");
        assert!(!stdout.contains(step), "progress on stdout:\n{stdout}");
    }
    assert!(stderr.contains("(100%), done in"), "{stderr}");
    assert!(stderr.contains("(2 of 2)"), "{stderr}");
}

#[test]
fn an_unknown_scenario_name_is_refused_with_the_valid_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args(["bench", "--only", "clicks"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("clicks"), "{stderr}");
    for name in [
        "click",
        "decision",
        "fan-out",
        "burst",
        "footprint",
        "at-rest",
    ] {
        assert!(stderr.contains(name), "{name} not listed:\n{stderr}");
    }
    assert!(!stdout.contains("| scenario |"), "{stdout}");
}

/// A reconcile pass that finds nothing new reads no channel and no team list: it lists the
/// connections, each connection's links (received, and those we share) and the admins (the
/// only way to hear of a new one). Counted by the sandbox, per pass, over a few idle passes.
#[test]
fn an_idle_pass_rereads_nothing_that_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rest.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sharebot"))
        .args([
            "bench",
            "--only",
            "at-rest",
            "--runs",
            "1",
            "--rest-connections",
            "3",
            "--rest-channels",
            "3",
            "--rest-period-s",
            "1",
            "--rest-passes",
            "3",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let figures: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let pass = figures
        .iter()
        .find(|f| f["name"] == "requests per pass at rest")
        .unwrap_or_else(|| panic!("no per-pass figure: {text}"));
    let note = pass["note"].as_str().unwrap();
    for reread in ["GET /api/v4/channels/{channel_id} ", "GET /api/v4/teams "] {
        assert!(!note.contains(reread), "{reread}every idle pass: {note}");
    }
    assert_eq!(pass["floor"], 4.0, "{pass}");
    // The connections and the admins, then per connection its received links and the links
    // we share.
    assert!(pass["max"].as_f64().unwrap() <= 2.0 + 2.0 * 3.0, "{pass}");
}
