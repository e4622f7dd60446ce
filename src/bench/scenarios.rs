//! The benchmark scenarios: click answer, decision applied, fan-out, burst under a rate limit,
//! footprint. Each measures from the Mattermost side (the sandbox's own state and timings,
//! read in-process without a round trip) and states its floor.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::mattermost::{Client, ClientOptions};

use super::progress::Progress;
use super::report::{ms, percentile, Figure};
use super::setup::{Shape, World};

/// What the scenarios are run with.
#[derive(Debug, Clone)]
pub struct Options {
    pub latency_ms: u64,
    pub admins: usize,
    pub channels: usize,
    pub rate_limit: u32,
    pub clicks_per_sec: u32,
    pub click_seconds: u64,
    pub decision_admins: usize,
    pub burst_admins: usize,
    pub footprint_requests: usize,
}

/// Waits (polling the in-process state every millisecond) until `done`, for at most `limit`.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<Duration, Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// [`until`] `count()` reaches `total`, reporting the count to `progress` as it goes.
async fn until_count(
    limit: Duration,
    total: usize,
    progress: &mut Progress,
    mut count: impl FnMut() -> usize,
) -> Result<Duration, Duration> {
    let mut polls = 0u32;
    until(limit, || {
        // The count scans the sandbox's posts: report it every 100 polls, check it every poll.
        let n = count();
        polls = polls.wrapping_add(1);
        if n >= total || polls.is_multiple_of(100) {
            progress.update(n);
        }
        n >= total
    })
    .await
}

/// `sysadmin` on Org B as a person, and the bot's review DM about `display` in their DM.
async fn sysadmin_dm(
    world: &World,
    display: &str,
) -> Result<(Client, crate::sandbox::model::Post), String> {
    let (client, me) = Client::login(
        world.b.site_url(),
        "sysadmin",
        "Sys@dmin-sample1",
        ClientOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let dm = client
        .create_direct_channel(&me.id, &world.bot_id())
        .await
        .map_err(|e| e.to_string())?;
    let bot = world.bot_id();
    let post = world
        .b
        .find_post(|p| {
            p.channel_id == dm.id
                && p.user_id == bot
                && p.root_id.is_empty()
                && p.props
                    .get("attachments")
                    .is_some_and(|a| a.to_string().contains(display))
        })
        .ok_or("sysadmin has no review DM")?;
    Ok((client, post))
}

/// Shares a channel and waits until every admin has its review DM; returns that time.
async fn share_and_fan_out(world: &World, name: &str, limit: Duration) -> Result<Duration, String> {
    let admins = world.admins.len();
    world.share(name).await?;
    until(limit, || world.b.channel_id("shared-inbox", name).is_some())
        .await
        .map_err(|_| format!("{name} never arrived at Org B"))?;
    until(limit, || world.review_dms(name, "Pick a team") >= admins)
        .await
        .map_err(|_| format!("not every admin got a DM about {name}"))
}

/// Scenario 1, clicks answered: the team menu of a review DM, clicked `clicks_per_sec` times a second
/// for `click_seconds`, timed by the sandbox from sending the integration request to reading
/// its answer. Floor: no Mattermost call on the answer path.
pub async fn click_answer(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let world = World::start(
        &Shape {
            admins: 2,
            latency_ms: o.latency_ms,
            rate_limit: None,
            bot_later: false,
        },
        dir,
    )
    .await?;
    share_and_fan_out(&world, "click-room", Duration::from_secs(30)).await?;
    let (client, post) = sysadmin_dm(&world, "click-room").await?;
    let teams = [
        world.b.team_id("engineering").unwrap_or_default(),
        world.b.team_id("marketing").unwrap_or_default(),
    ];
    world.b.integration_timings().take();
    let total = o.clicks_per_sec as u64 * o.click_seconds;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(
        1.0 / o.clicks_per_sec.max(1) as f64,
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut clicks = Vec::new();
    for i in 0..total {
        tick.tick().await;
        let (client, post_id, team) = (
            client.clone(),
            post.id.clone(),
            teams[(i % 2) as usize].clone(),
        );
        clicks.push(tokio::spawn(async move {
            client.click(&post_id, "team", Some(&team)).await.is_ok()
        }));
    }
    let mut failed = 0;
    for click in clicks {
        if !click.await.unwrap_or(false) {
            failed += 1;
        }
    }
    let timings = world.b.integration_timings().take();
    world.stop().await;
    let note = format!(
        "{} clicks at {}/s; max {:.1} ms",
        timings.len(),
        o.clicks_per_sec,
        ms(timings.iter().copied().max().unwrap_or_default())
    );
    Ok(vec![
        Figure::new(
            "click answer p50",
            ms(percentile(&timings, 50.0)),
            0.0,
            "ms",
        )
        .with_counts(failed, 0)
        .with_note(note.clone()),
        Figure::new(
            "click answer p99",
            ms(percentile(&timings, 99.0)),
            0.0,
            "ms",
        )
        .with_counts(failed, 0)
        .with_note(note),
    ])
}

/// The sequential round trips from an Accept click to its outcome: the click itself reaching
/// the server, then the calls an Accept cannot avoid: read the channel's members, add them to
/// the team (in parallel), move the channel, update every admin's DM (in parallel).
pub const DECISION_DEPTH: u64 = 5;

/// Scenario 2, decision applied: from the Accept click until the channel is in its team and every
/// admin's DM shows the outcome (the median of three). Floor: [`DECISION_DEPTH`] round trips.
pub async fn decision_applied(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let world = World::start(
        &Shape {
            admins: o.decision_admins,
            latency_ms: o.latency_ms,
            rate_limit: None,
            bot_later: false,
        },
        dir,
    )
    .await?;
    let marketing = world.b.team_id("marketing").unwrap_or_default();
    let admins = world.admins.len();
    let mut runs = Vec::new();
    let mut lost = 0;
    for run in 0..3 {
        let name = format!("decision-{run}");
        share_and_fan_out(&world, &name, Duration::from_secs(30)).await?;
        let (client, post) = sysadmin_dm(&world, &name).await?;
        client
            .click(&post.id, "team", Some(&marketing))
            .await
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        client
            .click(&post.id, "accept", None)
            .await
            .map_err(|e| e.to_string())?;
        let done = until(Duration::from_secs(30), || {
            world.b.channel_id("marketing", &name).is_some()
                && world.review_dms(&name, "accepted into") >= admins
        })
        .await;
        match done {
            Ok(_) => runs.push(started.elapsed()),
            Err(_) => lost += 1,
        }
    }
    world.stop().await;
    let median = percentile(&runs, 50.0);
    Ok(vec![Figure::new(
        &format!("decision applied ({admins} admins)"),
        ms(median),
        (DECISION_DEPTH * o.latency_ms) as f64,
        "ms",
    )
    .with_counts(lost, 0)
    .with_note(format!(
        "median of {} runs; floor: the click + 4 round trips",
        runs.len()
    ))])
}

/// Scenario 3, fan-out: from the channel's arrival at Org B until every admin has their DM. Floor: a
/// DM channel then a post, for every admin at once: 2 round trips.
pub async fn fan_out(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let world = World::start(
        &Shape {
            admins: o.admins,
            latency_ms: o.latency_ms,
            rate_limit: None,
            bot_later: false,
        },
        dir,
    )
    .await?;
    let admins = world.admins.len();
    world.share("fanout-room").await?;
    until(Duration::from_secs(60), || {
        world.b.channel_id("shared-inbox", "fanout-room").is_some()
    })
    .await
    .map_err(|_| "the channel never arrived at Org B".to_string())?;
    let took = until(Duration::from_secs(120), || {
        world.review_dms("fanout-room", "Pick a team") >= admins
    })
    .await;
    // Anything sent twice shows up once the bot has settled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = world.review_dms("fanout-room", "Pick a team");
    world.stop().await;
    let took = took.unwrap_or_else(|t| t);
    Ok(vec![Figure::new(
        &format!("fan-out to {admins} admins"),
        ms(took),
        (2 * o.latency_ms) as f64,
        "ms",
    )
    .with_counts(
        admins.saturating_sub(sent) as u64,
        sent.saturating_sub(admins) as u64,
    )
    .with_note(
        "from arrival at Org B; floor 2 round trips".to_string(),
    )])
}

/// Scenario 4, burst under a rate limit: `channels` arrive at once (shared by Org A before
/// the bot starts, so their arrival is not throttled) and the bot starts with Org B allowing
/// its token `rate_limit` requests a second; time from the bot's start until every admin has
/// every DM. Floor: the requests the job needs (each channel read once, each DM posted once,
/// each admin's DM channel opened once) ÷ the rate.
pub async fn burst(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let mut world = World::start(
        &Shape {
            admins: o.burst_admins,
            latency_ms: o.latency_ms,
            rate_limit: Some(o.rate_limit),
            bot_later: true,
        },
        dir,
    )
    .await?;
    let admins = world.admins.len();
    let names: Vec<String> = (0..o.channels).map(|i| format!("burst-{i:04}")).collect();
    for chunk in names.chunks(50) {
        let shares = chunk.iter().map(|name| world.share(name));
        for result in futures_util::future::join_all(shares).await {
            result?;
        }
    }
    until(Duration::from_secs(300), || {
        names
            .iter()
            .all(|n| world.b.channel_id("shared-inbox", n).is_some())
    })
    .await
    .map_err(|_| "the channels did not all arrive at Org B".to_string())?;
    let started = Instant::now();
    world.start_bot().await?;
    let bot = world.bot_id();
    let count = || {
        world.b.count_posts(|p| {
            p.user_id == bot
                && p.root_id.is_empty()
                && p.props.contains_key(crate::notify::REQUEST_MARKER)
        })
    };
    let expected = o.channels * admins;
    let needed = o.channels * (1 + admins) + admins;
    let floor = Duration::from_secs_f64(needed as f64 / o.rate_limit.max(1) as f64);
    let limit = floor * 3 + Duration::from_secs(60);
    let mut progress = Progress::start("burst", expected, "DMs");
    let _ = until_count(limit, expected, &mut progress, count).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = count();
    let total = |pairs: &[(&str, &str)]| {
        world.bot.as_ref().map_or(0, |bot| {
            bot.metrics
                .counter_total("sharebot_mattermost_requests_total", pairs)
        })
    };
    let (limited, requests) = (total(&[("status", "429")]), total(&[]));
    world.stop().await;
    Ok(vec![Figure::new(
        &format!(
            "burst: {} channels × {admins} admins at {}/s",
            o.channels, o.rate_limit
        ),
        took.as_secs_f64(),
        floor.as_secs_f64(),
        "s",
    )
    .with_counts(
        expected.saturating_sub(sent) as u64,
        sent.saturating_sub(expected) as u64,
    )
    .with_note(format!(
        "{requests} requests made ({needed} needed), {limited} answered 429"
    ))])
}

/// The resident memory of process `pid`, in MB (Linux `/proc`).
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Scenario 5, footprint: the bot as its own process, idle after start, and with
/// `footprint_requests` pending requests; the database's size.
pub async fn footprint(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let world = World::start(
        &Shape {
            admins: 2,
            latency_ms: 0,
            rate_limit: None,
            bot_later: false,
        },
        dir,
    )
    .await?;
    // Only the process below serves Org B from now on.
    let mut world = world;
    if let Some(in_process) = world.bot.take() {
        in_process.shutdown().await.map_err(|e| e.to_string())?;
    }
    let database = dir.join("footprint.db");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .arg("run")
        .env_clear()
        .env("SHAREBOT_MATTERMOST__URL", world.b.site_url())
        .env("SHAREBOT_MATTERMOST__TOKEN", world.b.bot_token())
        .env("SHAREBOT_MATTERMOST__ADMIN_CHANNEL", "engineering/admins")
        .env("SHAREBOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("SHAREBOT_SERVER__PUBLIC_URL", "http://127.0.0.1:9")
        .env(
            "SHAREBOT_SERVER__SECRET",
            crate::ids::new_id() + &crate::ids::new_id(),
        )
        .env(
            "SHAREBOT_DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .env("SHAREBOT_REVIEW__RECONCILE_EVERY", "2s")
        .env("SHAREBOT_LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the bot process: {e}"))?;
    let pid = child.id().ok_or("the bot process has no id")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_mb(pid).ok_or("cannot read the bot's memory")?;
    let names: Vec<String> = (0..o.footprint_requests)
        .map(|i| format!("pending-{i:05}"))
        .collect();
    let mut progress = Progress::start("footprint", names.len(), "channels shared");
    for (i, chunk) in names.chunks(100).enumerate() {
        for result in futures_util::future::join_all(chunk.iter().map(|n| world.share(n))).await {
            result?;
        }
        progress.update((i * 100 + chunk.len()).min(names.len()));
    }
    let bot = world.b.user_id("sharebot").unwrap_or_default();
    let expected = o.footprint_requests * 2;
    let mut progress = Progress::start("footprint", expected, "DMs");
    let done = until_count(Duration::from_secs(600), expected, &mut progress, || {
        world.b.count_posts(|p| {
            p.user_id == bot
                && p.root_id.is_empty()
                && p.props.contains_key(crate::notify::REQUEST_MARKER)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = rss_mb(pid).ok_or("cannot read the bot's memory")?;
    let _ = child.kill().await;
    let size: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", database.display())).ok())
        .map(|m| m.len())
        .sum();
    world.stop().await;
    let lost = if done.is_ok() { 0 } else { 1 };
    Ok(vec![
        Figure::against_target("RSS idle after start", idle, 20.0, "MB")
            .with_note("the bot as its own process"),
        Figure::against_target(
            &format!("RSS with {} pending requests", o.footprint_requests),
            loaded,
            60.0,
            "MB",
        )
        .with_counts(lost, 0),
        Figure::plain("database size", size as f64 / 1_048_576.0, "MB").with_note(format!(
            "{} requests, {expected} DMs recorded",
            o.footprint_requests
        )),
    ])
}
