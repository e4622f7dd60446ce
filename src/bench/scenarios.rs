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
    pub rest_connections: usize,
    pub rest_channels: usize,
    pub rest_period: Duration,
    pub rest_passes: u32,
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
            ..Shape::default()
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

/// The sequential round trips from an Accept click to its outcome in this scenario: the
/// click itself reaching the server, then the calls an Accept cannot avoid: read the channel,
/// its members and the team's checks (in parallel), move the channel, update every admin's DM
/// (in parallel). A round of team adds comes between the read and the move only when a member
/// is missing from the team; here every member is in it already, so the bot adds nobody.
pub const DECISION_DEPTH: u64 = 4;

/// Scenario 2, decision applied: from the Accept click until the channel is in its team and every
/// admin's DM shows the outcome (the median of three). Floor: [`DECISION_DEPTH`] round trips.
pub async fn decision_applied(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let world = World::start(
        &Shape {
            admins: o.decision_admins,
            latency_ms: o.latency_ms,
            rate_limit: None,
            bot_later: false,
            ..Shape::default()
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
        "median of {} runs; floor: the click + 3 round trips (nobody to add to the team)",
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
            ..Shape::default()
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
            ..Shape::default()
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
            ..Shape::default()
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

/// Scenario 6, at rest: `rest_connections` connections × `rest_channels` shared channels each
/// (the channels of every second connection land in a team of Org B and are accepted at once,
/// the others wait for review), then `rest_passes` reconcile periods with nothing changing,
/// counting every request Org B answers by route. Floors: a pass that finds nothing new lists
/// the connections once and each connection's links once, 1 + connections requests; a minute
/// holds 60 s ÷ `review.reconcile_every` passes.
pub async fn at_rest(o: &Options, dir: &Path) -> Result<Vec<Figure>, String> {
    let connections = o.rest_connections.max(1);
    let world = World::start(
        &Shape {
            admins: 2,
            latency_ms: 0,
            more_connections: connections - 1,
            reconcile_every: Some(o.rest_period),
            record: true,
            ..Shape::default()
        },
        dir,
    )
    .await?;
    let recorder = world.recorder.clone().ok_or("no recorder")?;
    let mut names = Vec::new();
    for c in 0..connections {
        for i in 0..o.rest_channels {
            names.push((c, format!("rest-{c:03}-{i:03}")));
        }
    }
    let mut progress = Progress::start("at-rest", names.len(), "channels shared");
    for (i, chunk) in names.chunks(50).enumerate() {
        let shares = chunk.iter().map(|(c, n)| world.share_over(*c, n));
        for result in futures_util::future::join_all(shares).await {
            result?;
        }
        progress.update((i * 50 + chunk.len()).min(names.len()));
    }
    // Settled: every channel arrived and was taken in (a DM to each admin for those waiting
    // for review, a notice in the admin channel for those accepted).
    let pending = names.iter().filter(|(c, _)| c % 2 == 0).count();
    let admins = world.admins.len();
    let bot = world.bot_id();
    let limit = Duration::from_secs(300) + o.rest_period * 4;
    let mut progress = Progress::start("at-rest", pending * admins, "DMs");
    until_count(limit, pending * admins, &mut progress, || {
        world.b.count_posts(|p| {
            p.user_id == bot
                && p.root_id.is_empty()
                && p.props.contains_key(crate::notify::REQUEST_MARKER)
        })
    })
    .await
    .map_err(|_| "not every pending channel reached the admins".to_string())?;
    let passes = || {
        world.bot.as_ref().map_or(0, |bot| {
            bot.metrics.counter_total(
                "sharebot_reconcile_duration_seconds_count",
                &[("result", "ok")],
            )
        })
    };
    // One whole pass after everything arrived, so the window starts at rest.
    let before = passes();
    until(limit, || passes() >= before + 2)
        .await
        .map_err(|_| "the bot made no pass at rest".to_string())?;
    recorder.clear();
    let (started, first) = (Instant::now(), passes());
    until(limit, || {
        passes() >= first + u64::from(o.rest_passes.max(1))
    })
    .await
    .map_err(|_| "the bot made too few passes at rest".to_string())?;
    let window = started.elapsed();
    let made = passes() - first;
    let others = crate::sandbox::server_to_server_routes();
    let mut by_route: Vec<(String, u64)> = Vec::new();
    for exchange in recorder.exchanges() {
        if others.iter().any(|(_, route)| *route == exchange.route) {
            continue;
        }
        let key = format!("{} {}", exchange.method, exchange.route);
        match by_route.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => by_route.push((key, 1)),
        }
    }
    world.stop().await;
    by_route.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: u64 = by_route.iter().map(|(_, n)| n).sum();
    let routes = by_route
        .iter()
        .map(|(route, n)| format!("{route} {:.1}", *n as f64 / made as f64))
        .collect::<Vec<_>>()
        .join(", ");
    let per_pass = total as f64 / made.max(1) as f64;
    let per_minute = total as f64 * 60.0 / window.as_secs_f64();
    let passes_a_minute = 60.0 / o.rest_period.as_secs_f64();
    let floor = 1.0 + connections as f64;
    let shape = format!(
        "{connections} connections × {} channels ({pending} pending), {made} passes every {} s",
        o.rest_channels,
        o.rest_period.as_secs()
    );
    Ok(vec![
        Figure::new("requests per pass at rest", per_pass, floor, "count").with_note(format!(
            "{shape}; by route, per pass: {}",
            if routes.is_empty() { "none" } else { &routes }
        )),
        Figure::new(
            "requests per minute at rest",
            per_minute,
            floor * passes_a_minute,
            "count",
        )
        .with_note(format!(
            "{shape}; floor (1 + connections) × 60 s ÷ reconcile period"
        )),
    ])
}
