//! `sharebot bench`: the bot against in-process sandboxes with injected round-trip latency,
//! each figure printed beside its floor (the Mattermost round trips the job cannot avoid).
//!
//! - [`setup`]: a world of two organizations and the bot; [`scenarios`]: what is measured;
//!   [`report`]: percentiles, the table and the JSON.

mod progress;
mod report;
mod scenarios;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;

pub use report::Figure;

/// `sharebot bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Latency the sandboxes add to every request: the stand-in for one network round trip.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// System admins on the receiving side for the fan-out.
    #[arg(long, default_value_t = 100)]
    pub admins: usize,
    /// Channels shared at once in the burst.
    #[arg(long, default_value_t = 500)]
    pub channels: usize,
    /// Requests a second the receiving server allows the bot in the burst (429 beyond).
    #[arg(long, default_value_t = 10)]
    pub rate_limit: u32,
    /// Admins in the burst (every one gets a DM per channel).
    #[arg(long, default_value_t = 2)]
    pub burst_admins: usize,
    /// Admins whose DMs a decision updates.
    #[arg(long, default_value_t = 5)]
    pub decision_admins: usize,
    /// Clicks a second in the click scenario.
    #[arg(long, default_value_t = 200)]
    pub clicks_per_sec: u32,
    /// How long the click scenario clicks.
    #[arg(long, default_value_t = 10)]
    pub click_seconds: u64,
    /// Pending requests for the memory figure.
    #[arg(long, default_value_t = 10_000)]
    pub footprint_requests: usize,
    /// Connections from Org A in the at-rest scenario.
    #[arg(long, default_value_t = 50)]
    pub rest_connections: usize,
    /// Shared channels over each connection in the at-rest scenario (every second
    /// connection's accepted at once, the others' pending review).
    #[arg(long, default_value_t = 20)]
    pub rest_channels: usize,
    /// The bot's reconcile period in the at-rest scenario, seconds (`review.reconcile_every`).
    #[arg(long, default_value_t = 30)]
    pub rest_period_s: u64,
    /// Reconcile passes counted at rest (by default one period of the admin list and the
    /// decline check, which are read at every 10th pass).
    #[arg(long, default_value_t = crate::review::ROSTER_EVERY_PASSES as u32)]
    pub rest_passes: u32,
    /// Runs of each scenario: every figure is reported as its median and its range, and a
    /// target counts as met only when the worst run meets it.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Run only these scenarios; all by default. An unknown name is refused (exit 2) with
    /// the list of valid ones.
    #[arg(long, value_delimiter = ',', value_parser = SCENARIOS)]
    pub only: Vec<String>,
}

/// The scenarios' names for `--only`, in the order they run.
pub const SCENARIOS: [&str; 6] = [
    "click",
    "decision",
    "fan-out",
    "burst",
    "footprint",
    "at-rest",
];

/// Runs every scenario, prints the table, writes the JSON; fails when anything was lost or
/// duplicated or a scenario could not run.
pub async fn run(args: BenchArgs) -> ExitCode {
    // `RUST_LOG=sharebot=debug` shows every Mattermost call with its timing: where time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let dir = std::env::temp_dir().join(format!("sharebot-bench-{}", std::process::id()));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {err}", dir.display());
        return ExitCode::FAILURE;
    }
    let options = scenarios::Options {
        latency_ms: args.latency_ms,
        admins: args.admins.max(2),
        channels: args.channels.max(1),
        rate_limit: args.rate_limit.max(1),
        clicks_per_sec: args.clicks_per_sec.max(1),
        click_seconds: args.click_seconds.max(1),
        decision_admins: args.decision_admins.max(2),
        burst_admins: args.burst_admins.max(2),
        footprint_requests: args.footprint_requests,
        rest_connections: args.rest_connections.max(1),
        rest_channels: args.rest_channels,
        rest_period: std::time::Duration::from_secs(args.rest_period_s.max(1)),
        rest_passes: args.rest_passes.max(1),
    };
    println!(
        "sharebot bench: round trip {} ms; {} runs of each scenario; {} cores",
        options.latency_ms,
        args.runs.max(1),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut figures = Vec::new();
    let mut failed = false;
    for name in SCENARIOS {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        let runs = args.runs.max(1);
        let mut found = Vec::new();
        for run in 1..=runs {
            eprintln!("running: {name} ({run} of {runs})…");
            let result = match name {
                "click" => scenarios::click_answer(&options, &dir).await,
                "decision" => scenarios::decision_applied(&options, &dir).await,
                "fan-out" => scenarios::fan_out(&options, &dir).await,
                "burst" => scenarios::burst(&options, &dir).await,
                "footprint" => scenarios::footprint(&options, &dir).await,
                _ => scenarios::at_rest(&options, &dir).await,
            };
            match result {
                Ok(figures) => found.push(figures),
                Err(why) => {
                    eprintln!("error: the {name} scenario could not run ({run} of {runs}): {why}");
                    failed = true;
                }
            }
        }
        figures.append(&mut report::combine_runs(&found));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", report::table(&figures));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&figures).unwrap_or_default();
        if let Err(err) = std::fs::write(path, json) {
            eprintln!("error: cannot write {}: {err}", path.display());
            failed = true;
        }
    }
    if failed || figures.iter().any(|f| f.lost > 0 || f.duplicated > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
