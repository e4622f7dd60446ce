//! `sharebot chaos`: three replicas of the bot on one PostgreSQL, driven by two sandbox
//! organizations' people while faults are injected on a seeded schedule; then checked for loss.
//!
//! - [`setup`]: the organizations; [`replicas`]: the `sharebot run` processes and their roles;
//!   [`proxy`]: the load balancer at `server.public_url`; [`database`]: the run's database;
//!   [`schedule`]: the faults; [`workload`]: the people; [`checks`]: what must hold at the end.

mod checks;
mod database;
mod proxy;
mod replicas;
mod schedule;
mod setup;
mod workload;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sandbox::faults::{FaultSettings, RateLimit};

use self::database::RunDatabase;
use self::replicas::Replicas;
use self::schedule::Fault;
use self::setup::World;
use self::workload::Activity;

/// The number of replicas.
const REPLICAS: usize = 3;
/// The reconcile period the replicas run with, so a settle period sees every loop run.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// `sharebot chaos` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// The PostgreSQL server to use; the run creates its own database there and drops it at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub database_url: String,
    /// How long the people work and the faults come.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seeds the fault schedule and the people's choices (the same seed, the same plan).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The replicas' `ha.takeover_after`, in milliseconds (when this build has the key).
    #[arg(long, default_value_t = 5000)]
    pub takeover_after_ms: u64,
    /// The longest wait after the run for everything to settle before the checks fail.
    #[arg(long, default_value_t = 60)]
    pub settle_seconds: u64,
    /// Keep the replicas' logs (their folder is printed) even when nothing was lost.
    #[arg(long)]
    pub keep_logs: bool,
}

/// Faults injected (or skipped, with why) by kind.
#[derive(Default)]
struct FaultLog {
    injected: BTreeMap<&'static str, usize>,
    skipped: BTreeMap<String, usize>,
}

impl FaultLog {
    fn injected(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_default() += 1;
    }

    fn skipped(&mut self, kind: &'static str, why: &str) {
        *self.skipped.entry(format!("{kind} ({why})")).or_default() += 1;
    }
}

/// Runs the chaos run and prints its report; exit 1 on any loss or duplicate, 2 on bad options.
pub async fn run(args: ChaosArgs) -> ExitCode {
    if args.seconds == 0 {
        eprintln!("error: --seconds must be at least 1");
        return ExitCode::from(crate::exit::CONFIG);
    }
    let seed = args.seed.unwrap_or_else(|| crate::ids::now_ms() as u64);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("error: cannot find this program to start the replicas: {err}");
            return ExitCode::FAILURE;
        }
    };
    let db = match RunDatabase::create(&args.database_url).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let logs = std::env::temp_dir().join(format!("sharebot-chaos-{}", db.name));
    let result = match std::fs::create_dir_all(&logs) {
        Ok(()) => drive(&args, seed, exe, &db, &logs).await,
        Err(err) => Err(format!("cannot create {}: {err}", logs.display())),
    };
    if let Err(err) = db.drop().await {
        eprintln!("warning: {err}");
    }
    match result {
        Ok(clean) => {
            if clean && !args.keep_logs {
                let _ = std::fs::remove_dir_all(&logs);
            } else {
                println!("replica logs: {}", logs.display());
            }
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            eprintln!("replica logs: {}", logs.display());
            ExitCode::FAILURE
        }
    }
}

/// The run itself; `Ok(true)` when nothing was lost or duplicated.
async fn drive(
    args: &ChaosArgs,
    seed: u64,
    exe: std::path::PathBuf,
    db: &RunDatabase,
    logs: &std::path::Path,
) -> Result<bool, String> {
    let length = Duration::from_secs(args.seconds);
    let takeover = Duration::from_millis(args.takeover_after_ms.max(100));
    println!(
        "sharebot chaos: {REPLICAS} replicas on PostgreSQL database {}, {} s, seed {seed}",
        db.name, args.seconds
    );
    let world = Arc::new(World::start().await?);
    let mut env: HashMap<String, String> = [
        ("SHAREBOT_MATTERMOST__URL", world.b.site_url().to_string()),
        (
            "SHAREBOT_MATTERMOST__TOKEN",
            world.b.bot_token().to_string(),
        ),
        (
            "SHAREBOT_MATTERMOST__ADMIN_CHANNEL",
            "engineering/admins".into(),
        ),
        (
            "SHAREBOT_SERVER__SECRET",
            crate::ids::new_id() + &crate::ids::new_id(),
        ),
        ("SHAREBOT_DATABASE__URL", db.url.clone()),
        (
            "SHAREBOT_REVIEW__RECONCILE_EVERY",
            format!("{}s", RECONCILE_EVERY.as_secs()),
        ),
        ("SHAREBOT_LOG__LEVEL", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let has_takeover = crate::config::KEYS
        .iter()
        .any(|k| k.section == "ha" && k.key == "takeover_after");
    if has_takeover {
        env.insert(
            "SHAREBOT_HA__TAKEOVER_AFTER".into(),
            format!("{}ms", takeover.as_millis()),
        );
    }
    let replicas = Replicas::new(exe, env, REPLICAS, logs)?;
    let proxy = proxy::start(replicas.clone()).await?;
    // The load balancer is the replicas' public URL: every button and dialog calls it.
    let replicas = {
        let mut with_url = replicas;
        with_url.set_env("SHAREBOT_SERVER__PUBLIC_URL", &proxy.url);
        with_url
    };
    let (stop_watch, stopped) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(replicas.clone().watch(stopped));
    // Start them one after the other: the first migrates the database.
    let started = Instant::now();
    replicas.start(0)?;
    wait_for(Duration::from_secs(60), || replicas.ready(0))
        .await
        .map_err(|_| "the first replica did not become ready within 60 s".to_string())?;
    for i in 1..REPLICAS {
        replicas.start(i)?;
    }
    wait_for(Duration::from_secs(60), || {
        (0..REPLICAS).all(|i| replicas.ready(i))
            && (!replicas.watched().roles_seen || replicas.leader().is_some())
    })
    .await
    .map_err(|_| "the replicas did not all become ready within 60 s".to_string())?;
    println!(
        "  {REPLICAS} replicas ready in {:.1} s behind {}; {}",
        started.elapsed().as_secs_f64(),
        proxy.url,
        if replicas.watched().roles_seen {
            "they report their roles"
        } else {
            "they report no role (this build has no leader election)"
        }
    );

    let activity = Arc::new(Activity::default());
    let until = tokio::time::Instant::now() + length;
    let people = vec![
        tokio::spawn(workload::share(
            world.clone(),
            activity.clone(),
            seed,
            until,
        )),
        tokio::spawn(workload::click(
            world.clone(),
            activity.clone(),
            seed ^ 1,
            until,
        )),
        tokio::spawn(workload::click(
            world.clone(),
            activity.clone(),
            seed ^ 2,
            until,
        )),
        tokio::spawn(workload::command(
            world.clone(),
            activity.clone(),
            seed ^ 3,
            until,
        )),
    ];
    let faults = Arc::new(Mutex::new(FaultLog::default()));
    let plan = schedule::plan(seed, length);
    let injector = Injector {
        world: world.clone(),
        replicas: replicas.clone(),
        db,
        takeover,
        faults: faults.clone(),
        storms: Arc::new(Mutex::new(Storms::default())),
        pending: Arc::new(Mutex::new(Vec::new())),
    };
    let run_started = tokio::time::Instant::now();
    for planned in plan {
        tokio::time::sleep_until(run_started + planned.at).await;
        injector.inject(&planned.fault).await;
    }
    for person in people {
        let _ = person.await;
    }
    // The end: every storm over, every replica back, then the settle period.
    injector.recover().await;
    let shared = activity
        .shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let settle_started = Instant::now();
    let settle_limit = Duration::from_secs(args.settle_seconds);
    tokio::time::sleep(RECONCILE_EVERY * 2).await;
    let mut conn = db.connect().await?;
    let findings = loop {
        let findings = checks::check(&world, &shared, &mut conn).await?;
        if (findings.lost == 0 && findings.duplicated == 0)
            || settle_started.elapsed() > settle_limit
        {
            break findings;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let settled = settle_started.elapsed();
    let _ = stop_watch.send(true);
    let _ = watcher.await;
    let watched = replicas.watched();
    let served = proxy.served();
    replicas.stop_all(Duration::from_secs(10)).await;
    proxy.stop();
    let faults = std::mem::take(&mut *faults.lock().unwrap_or_else(|p| p.into_inner()));
    report(&Report {
        seconds: args.seconds,
        seed,
        settled,
        findings: &findings,
        activity: &activity,
        faults: &faults,
        watched: &watched,
        served: &served,
    });
    if let Ok(world) = Arc::try_unwrap(world) {
        world.stop().await;
    }
    Ok(findings.lost == 0 && findings.duplicated == 0)
}

/// Waits until `done`, polling every 50 ms, for at most `limit`.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The storms in force on Org B, each until its end.
#[derive(Default)]
struct Storms {
    errors: Option<(f64, tokio::time::Instant)>,
    limit: Option<(u32, tokio::time::Instant)>,
}

impl Storms {
    /// Org B's fault settings for the storms still in force.
    fn settings(&self) -> FaultSettings {
        let now = tokio::time::Instant::now();
        FaultSettings {
            error_rate: self
                .errors
                .filter(|(_, end)| *end > now)
                .map_or(0.0, |(rate, _)| rate),
            rate_limit: self
                .limit
                .filter(|(_, end)| *end > now)
                .map(|(per_sec, _)| RateLimit {
                    per_sec,
                    max_burst: per_sec,
                    vary_by_user: true,
                }),
            ..FaultSettings::default()
        }
    }
}

/// Injects the faults and undoes them (restarts, SIGCONT, the end of storms) in the background.
struct Injector<'a> {
    world: Arc<World>,
    replicas: Replicas,
    db: &'a RunDatabase,
    takeover: Duration,
    faults: Arc<Mutex<FaultLog>>,
    storms: Arc<Mutex<Storms>>,
    /// Restarts, continues and storm ends still to come.
    pending: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Injector<'_> {
    fn log(&self) -> std::sync::MutexGuard<'_, FaultLog> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn later(&self, task: tokio::task::JoinHandle<()>) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    /// The leader, waiting up to three takeover periods for one (a fault may fall in the
    /// gap another one left).
    async fn wait_for_leader(&self) -> Option<usize> {
        let _ = wait_for(self.takeover * 3, || self.replicas.leader().is_some()).await;
        self.replicas.leader()
    }

    /// `pg_terminate_backend` of the lock's session, waiting up to three takeover periods for
    /// a session to hold it.
    async fn terminate_lock_holder(&self) -> Result<Option<i32>, String> {
        let started = Instant::now();
        loop {
            match self.db.terminate_lock_holder().await? {
                Some(pid) => return Ok(Some(pid)),
                None if started.elapsed() > self.takeover * 3 => return Ok(None),
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn inject(&self, fault: &Fault) {
        let kind = fault.kind();
        match fault {
            Fault::KillLeader { pause } | Fault::KillFollower { pause } => {
                let target = if matches!(fault, Fault::KillLeader { .. }) {
                    self.wait_for_leader().await
                } else {
                    let followers = self.replicas.followers();
                    followers.get(followers.len() / 2).copied()
                };
                // Never the last replica standing: a load balancer with nothing behind it
                // tests nothing.
                let Some(i) = target else {
                    self.log().skipped(kind, "none seen");
                    return;
                };
                if self.replicas.running().len() < 2 {
                    self.log().skipped(kind, "the last replica running");
                    return;
                }
                if !self.replicas.kill(i).await {
                    self.log().skipped(kind, "not running");
                    return;
                }
                self.log().injected(kind);
                let (replicas, pause) = (self.replicas.clone(), *pause);
                self.later(tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    if let Err(err) = replicas.start(i) {
                        eprintln!("warning: cannot restart replica {}: {err}", i + 1);
                    }
                }));
            }
            Fault::DropSockets => {
                self.world.b.hub().drop_all();
                self.log().injected(kind);
            }
            Fault::ForgetSockets => {
                self.world.b.hub().forget_sessions();
                self.world.b.hub().drop_all();
                self.log().injected(kind);
            }
            Fault::ErrorStorm { lasting, .. } | Fault::RateLimitStorm { lasting, .. } => {
                let end = tokio::time::Instant::now() + *lasting;
                {
                    let mut storms = self.storms.lock().unwrap_or_else(|p| p.into_inner());
                    match fault {
                        Fault::ErrorStorm { rate, .. } => storms.errors = Some((*rate, end)),
                        Fault::RateLimitStorm { per_sec, .. } => {
                            storms.limit = Some((*per_sec, end))
                        }
                        _ => {}
                    }
                    self.world.b.faults().set(storms.settings());
                }
                self.log().injected(kind);
                let (storms, world) = (self.storms.clone(), self.world.clone());
                self.later(tokio::spawn(async move {
                    tokio::time::sleep_until(end).await;
                    let storms = storms.lock().unwrap_or_else(|p| p.into_inner());
                    world.b.faults().set(storms.settings());
                }));
            }
            Fault::ResetLockConnection => match self.terminate_lock_holder().await {
                Ok(Some(_)) => self.log().injected(kind),
                Ok(None) => self.log().skipped(kind, "no session held the lock"),
                Err(err) => {
                    eprintln!("warning: {err}");
                    self.log().skipped(kind, "PostgreSQL refused");
                }
            },
            Fault::StallLeader => {
                let Some(i) = self.wait_for_leader().await else {
                    self.log().skipped(kind, "no leader seen");
                    return;
                };
                if !self.replicas.signal_stop(i, true) {
                    self.log().skipped(kind, "not running");
                    return;
                }
                self.log().injected(kind);
                // Continued once another replica leads (the old one wakes up to a takeover),
                // or after three takeover periods when none does.
                let (replicas, limit) = (self.replicas.clone(), self.takeover * 3);
                self.later(tokio::spawn(async move {
                    let _ = wait_for(limit, || replicas.leader().is_some_and(|l| l != i)).await;
                    replicas.signal_stop(i, false);
                }));
            }
        }
    }

    /// Waits for every restart and storm end, then makes sure every replica runs.
    async fn recover(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for task in pending {
            let _ = task.await;
        }
        self.world.b.faults().set(FaultSettings::default());
        for i in 0..self.replicas.count() {
            match self.replicas.life(i) {
                Some(replicas::Life::Stopped) => {
                    self.replicas.signal_stop(i, false);
                }
                Some(replicas::Life::Down) => {
                    let _ = self.replicas.start(i);
                }
                _ => {}
            }
        }
    }
}

struct Report<'a> {
    seconds: u64,
    seed: u64,
    settled: Duration,
    findings: &'a checks::Findings,
    activity: &'a Activity,
    faults: &'a FaultLog,
    watched: &'a replicas::Watched,
    served: &'a [usize],
}

fn report(r: &Report<'_>) {
    use std::sync::atomic::Ordering::SeqCst;
    let f = r.findings;
    let a = r.activity;
    println!(
        "chaos run: {} s, seed {}; settled in {:.1} s",
        r.seconds,
        r.seed,
        r.settled.as_secs_f64()
    );
    println!(
        "  channels shared {} (invites Mattermost reported failed {}), arrived {}; requests {} (accepted {}, rejected {}, pending {}); relocations {}; decisions that failed and went back to pending {}",
        f.shared, f.invites_failed, f.arrived, f.requests, f.accepted, f.rejected, f.pending, f.relocations, f.failed_decisions
    );
    println!(
        "  clicks {} ({} answered with an error, {} races of several admins, {} relocations); review DMs {}",
        a.clicks.load(SeqCst),
        a.clicks_failed.load(SeqCst),
        a.races.load(SeqCst),
        a.relocations.load(SeqCst),
        f.dms
    );
    println!(
        "  commands {} (answered {}, of which \"I was restarted\" {}); posts and shares the server refused {}",
        f.commands,
        f.answers,
        f.restarted_notes,
        a.refused.load(SeqCst)
    );
    let total: usize = r.faults.injected.values().sum();
    let kinds: Vec<String> = r
        .faults
        .injected
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("  faults injected {total}: {}", kinds.join(", "));
    if !r.faults.skipped.is_empty() {
        let skipped: Vec<String> = r
            .faults
            .skipped
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("  faults skipped: {}", skipped.join(", "));
    }
    if r.watched.roles_seen {
        println!(
            "  leader changes {}; longest time without a leader {:.2} s; polls with two leaders {}",
            r.watched.changes,
            r.watched.longest_gap.as_secs_f64(),
            r.watched.overlaps
        );
    } else {
        println!("  leader changes: unknown (no replica reported a role on /readyz)");
    }
    let served: Vec<String> = r
        .served
        .iter()
        .enumerate()
        .map(|(i, n)| format!("#{} {n}", i + 1))
        .collect();
    println!("  callbacks served by replica: {}", served.join(", "));
    for problem in f.problems.iter().take(20) {
        println!("  {problem}");
    }
    if f.problems.len() > 20 {
        println!("  … and {} more", f.problems.len() - 20);
    }
    println!("  lost = {}, duplicated = {}", f.lost, f.duplicated);
}
