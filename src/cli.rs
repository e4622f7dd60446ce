//! Command-line interface: `run`, `check-config`, `migrate`, `sandbox`, `demo`, `bench`, `chaos`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigErrors, DatabaseConfig, DatabaseOnlyConfig};
use crate::exit::CONFIG as EXIT_CONFIG;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "sharebot",
    version,
    about = "Manage Mattermost Shared Channels from chat",
    long_about = "sharebot is a Mattermost bot for Shared Channels (Connected Workspaces).\n\
It DMs every system admin about each incoming shared channel, with a team menu and Accept / \
Reject buttons, and answers @sharebot commands in an admin channel (or a DM) to create and \
accept secure connections, share and unshare channels, and report status.\n\n\
Check the configuration with `sharebot check-config`, then start the bot with `sharebot run`. \
No Mattermost server at hand? `sharebot demo` plays the whole job between two organizations \
on this machine, and `sharebot sandbox` runs a local stand-in with seeded users (see \
`sharebot sandbox --help`).\n\n\
Configuration comes from bot.toml (see each command's --config) and SHAREBOT_<SECTION>__<KEY> \
environment variables; secrets come only from the environment or *_file keys. Every key is \
described in the configuration reference in README.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: load the configuration, migrate the database, serve HTTP, connect to Mattermost.
    Run(ConfigArg),
    /// Validate the configuration and print the effective values, secrets masked.
    CheckConfig(ConfigArg),
    /// Apply database migrations and exit (needs only [database] and [log]: no token or secret).
    Migrate(ConfigArg),
    /// Run a Mattermost-compatible sandbox server (for tests and trying sharebot out).
    #[command(after_help = crate::sandbox::cli::AFTER_HELP)]
    Sandbox(crate::sandbox::cli::SandboxArgs),
    /// Run the demo: two sandbox organizations and a sharebot for each, end to end.
    Demo(crate::demo::DemoArgs),
    /// Measure the bot against in-process sandboxes: each figure beside its floor.
    Bench(crate::bench::BenchArgs),
    /// Three replicas on PostgreSQL under seeded faults, then checked: nothing lost or doubled.
    Chaos(crate::chaos::ChaosArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Path to the configuration file [default: bot.toml when it exists; otherwise the
    /// environment alone configures the bot].
    // The variable's value is not shown: unset, clap would print `SHAREBOT_CONFIG=`, which
    // reads as set to empty.
    #[arg(long, short = 'c', env = "SHAREBOT_CONFIG", hide_env_values = true)]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file to read: `--config`, else `bot.toml` when it exists, else none.
    fn file(&self) -> Option<PathBuf> {
        let default = PathBuf::from("bot.toml");
        match &self.config {
            Some(path) => Some(path.clone()),
            None if default.exists() => Some(default),
            None => None,
        }
    }

    /// Loads the whole configuration, printing every error and how to fix it when it is invalid.
    fn load(&self) -> Result<Config, ExitCode> {
        Config::load(self.file().as_deref()).map_err(refused)
    }

    /// Loads only what `migrate` needs (`[database]` and `[log]`; no Mattermost secrets).
    fn load_database(&self) -> Result<DatabaseOnlyConfig, ExitCode> {
        Config::load_database(self.file().as_deref()).map_err(refused)
    }
}

/// Prints every configuration error and where the keys are documented; exit code 2.
fn refused(errors: ConfigErrors) -> ExitCode {
    eprint!("error: {errors}");
    eprintln!(
        "See the configuration reference in README.md for every key, its default and its environment variable."
    );
    ExitCode::from(EXIT_CONFIG)
}

/// Parses the command line and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli.command))
}

async fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run(arg) => match arg.load() {
            Ok(config) => run(config).await,
            Err(code) => code,
        },
        Command::CheckConfig(arg) => match arg.load() {
            Ok(config) => {
                // Written, not printed: a closed pipe (`sharebot check-config | head`) is no
                // reason to panic.
                let text = format!("{}\n# configuration is valid\n", config.render());
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Migrate(arg) => match arg.load_database() {
            Ok(config) => migrate(config).await,
            Err(code) => code,
        },
        Command::Sandbox(args) => crate::sandbox::cli::run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Chaos(args) => crate::chaos::run(args).await,
    }
}

/// Connects to the database and applies the migrations. A failure is printed once, as an
/// `error:` line for the person at the terminal (not also as a log line).
async fn open_store(database: &DatabaseConfig) -> Result<Store, ExitCode> {
    Store::open(database).await.map_err(|err| {
        eprintln!("error: {err}");
        if let Some(hint) = err.hint() {
            eprintln!("hint: {hint}");
        }
        ExitCode::FAILURE
    })
}

/// `sharebot migrate`: needs only `[database]` and `[log]`, so it runs without the secrets.
async fn migrate(config: DatabaseOnlyConfig) -> ExitCode {
    crate::logging::init(&config.log);
    match open_store(&config.database).await {
        Ok(store) => {
            let versions = store.applied_migrations().await.unwrap_or_default();
            println!(
                "database {} is up to date (migrations applied: {:?})",
                config.database.display_url, versions
            );
            store.close().await;
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `sharebot run`: start-up checks, HTTP server and WebSocket listener, until SIGTERM/Ctrl-C.
async fn run(config: Config) -> ExitCode {
    crate::logging::init(&config.log);
    tracing::info!(
        mattermost = %config.mattermost.url,
        admin_channel = %config.mattermost.admin_channel,
        database = %config.database.display_url,
        "starting sharebot {}",
        env!("CARGO_PKG_VERSION")
    );
    let stop = crate::signals::StopSignal::install();
    let bot = match crate::domain::start(&config, crate::bot::Tuning::default(), None).await {
        Ok(bot) => bot,
        Err(err) => {
            // Printed once, for the person at the terminal; not also as a log line.
            eprintln!("error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            return match err {
                crate::bot::BotError::Template(_) => ExitCode::from(EXIT_CONFIG),
                _ => ExitCode::FAILURE,
            };
        }
    };
    stop.wait().await;
    match bot.shutdown().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
