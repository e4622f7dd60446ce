//! What `/metrics` serves: the README's list exactly, every known series from start-up, and the
//! review work counted as it happens.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use sharebot::bot::RunningBot;
use support::world::*;

async fn scrape(bot: &RunningBot) -> String {
    reqwest::get(format!("http://{}/metrics", bot.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `series` (name and labels exactly as served), if served.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until `/metrics` serves `series` with `expected`; returns the whole text.
async fn serves(bot: &RunningBot, series: &str, expected: f64) -> String {
    wait(&format!("{series} = {expected}"), || async {
        let text = scrape(bot).await;
        (value(&text, series) == Some(expected)).then_some(text)
    })
    .await
}

/// The metric names the README's table lists.
fn documented() -> BTreeSet<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `sharebot_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("sharebot_{name}"))
        .collect()
}

/// The metric names `/metrics` serves, as a query names them (a counter with `_total`).
fn served(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some(if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            })
        })
        .collect()
}

#[tokio::test]
async fn the_readme_lists_every_metric_served_from_start_up_and_no_other() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let bot = world.start_bot().await;
    // Start-up ends with the first reconcile pass, which learns the connections (the request
    // counts have one series per state and connection).
    let text = wait("the first reconcile pass", || async {
        let text = scrape(&bot).await;
        let passes = "sharebot_reconcile_duration_seconds_count{result=\"ok\"}";
        value(&text, passes)
            .is_some_and(|n| n >= 1.0)
            .then_some(text)
    })
    .await;
    let documented = documented();
    assert!(documented.len() >= 16, "{documented:?}");
    let served = served(&text);
    let missing: Vec<_> = served.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "served but not in the README: {missing:?}; in the README but not served: {stale:?}"
    );
    // Each documented series with known labels is there before its first event.
    for series in [
        "sharebot_decisions_total{outcome=\"accepted\",how=\"click\"}",
        "sharebot_decisions_total{outcome=\"accepted\",how=\"dialog\"}",
        "sharebot_decisions_total{outcome=\"accepted\",how=\"rule\"}",
        "sharebot_decisions_total{outcome=\"rejected\",how=\"expiry\"}",
        "sharebot_decisions_total{outcome=\"withdrawn\",how=\"withdrawal\"}",
        "sharebot_commands_total{command=\"connections\",result=\"ok\"}",
        "sharebot_commands_total{command=\"unknown\",result=\"unknown\"}",
        "sharebot_callbacks_total{kind=\"action\",outcome=\"forged\"}",
        "sharebot_websocket_disconnects_total",
        "sharebot_reconcile_duration_seconds_count{result=\"failed\"}",
        "sharebot_dm_fanout_seconds_count",
        &format!(
            "sharebot_requests{{state=\"pending\",connection=\"{}\"}}",
            world.remote_id
        ),
    ] {
        assert_eq!(value(&text, series), Some(0.0), "{series} in\n{text}");
    }
    let version = format!(
        "sharebot_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &version), Some(1.0), "{text}");
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_review_round_shows_in_the_metrics() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let remote = world.remote_id.clone();
    let kept = world.share("launch-plan", "Launch plan").await;
    world.share("budget", "Budget").await;
    let gone = world.share("gone", "Gone soon").await;
    let bot = world.start_bot().await;
    let pending =
        |state: &str| format!("sharebot_requests{{state=\"{state}\",connection=\"{remote}\"}}");

    // Three channels arrive: each one's DMs go to both admins, and a pass goes through them.
    let (one, launch, _, _) = both_dms(&world, "Launch plan").await;
    let (_, budget, _, _) = both_dms(&world, "Budget").await;
    both_dms(&world, "Gone soon").await;
    serves(&bot, "sharebot_reconcile_requests", 3.0).await;
    let text = serves(&bot, &pending("pending"), 3.0).await;
    assert_eq!(
        value(&text, "sharebot_dm_fanout_seconds_count"),
        Some(3.0),
        "{text}"
    );
    let oldest = format!("sharebot_oldest_pending_request_age_seconds{{connection=\"{remote}\"}}");
    assert!(
        value(&text, &oldest).is_some_and(|age| age >= 0.0),
        "{text}"
    );

    // One accepted, one rejected by a click; one withdrawn by its sender.
    let marketing = world.b.team_id("marketing").unwrap();
    let (status, answer) = one.click(&launch.id, "team", Some(&marketing)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = one.click(&launch.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = one.click(&budget.id, "reject", None).await;
    assert_eq!(status, 200, "{answer}");
    one.client.archive_channel(&gone).await.unwrap();
    dm_showing(&world, &one, "Gone soon", "stopped sharing").await;
    dm_showing(&world, &one, "Launch plan", "accepted into **Marketing**").await;
    dm_showing(&world, &one, "Budget", "rejected by @sysadmin").await;
    assert_eq!(channel_on_b(&world, &kept).await.team_id, marketing);

    // Two commands: one that runs, one that is no command.
    let bot_user = bot_id(&world);
    for text in ["@sharebot connections", "@sharebot conections"] {
        let asked = one.post(&world.admin_channel(), text, "").await;
        wait("the answer", || async {
            one.replies(&world.admin_channel(), &asked.id, &bot_user)
                .await
                .into_iter()
                .next()
        })
        .await;
    }

    // A pass that found nothing pending: every decision is carried out.
    let text = serves(&bot, "sharebot_reconcile_requests", 0.0).await;
    for (series, expected) in [
        (pending("pending"), 0.0),
        (pending("accepted"), 1.0),
        (pending("rejected"), 1.0),
        (pending("withdrawn"), 1.0),
        (oldest.clone(), 0.0),
        (
            "sharebot_decisions_total{outcome=\"accepted\",how=\"click\"}".into(),
            1.0,
        ),
        (
            "sharebot_decisions_total{outcome=\"rejected\",how=\"click\"}".into(),
            1.0,
        ),
        (
            "sharebot_decisions_total{outcome=\"withdrawn\",how=\"withdrawal\"}".into(),
            1.0,
        ),
        (
            "sharebot_decisions_total{outcome=\"accepted\",how=\"dialog\"}".into(),
            0.0,
        ),
        (
            "sharebot_decisions_total{outcome=\"rejected\",how=\"expiry\"}".into(),
            0.0,
        ),
        (
            "sharebot_time_to_decision_seconds_count{how=\"click\"}".into(),
            2.0,
        ),
        (
            "sharebot_time_to_decision_seconds_count{how=\"withdrawal\"}".into(),
            1.0,
        ),
        ("sharebot_dm_fanout_seconds_count".into(), 3.0),
        (
            "sharebot_commands_total{command=\"connections\",result=\"ok\"}".into(),
            1.0,
        ),
        (
            "sharebot_commands_total{command=\"unknown\",result=\"unknown\"}".into(),
            1.0,
        ),
        (
            "sharebot_reconcile_duration_seconds_count{result=\"failed\"}".into(),
            0.0,
        ),
        (
            "sharebot_callbacks_total{kind=\"action\",outcome=\"answered\"}".into(),
            3.0,
        ),
    ] {
        assert_eq!(value(&text, &series), Some(expected), "{series} in\n{text}");
    }
    assert!(
        value(
            &text,
            "sharebot_reconcile_duration_seconds_count{result=\"ok\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    bot.shutdown().await.unwrap();
}
