//! Command-line interface: `run`, `check-config`, `migrate`, `sandbox`, `demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

/// Exit code for bad configuration (`sysexits`-style usage error, as documented in the README).
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "sharebot",
    version,
    about = "Manage Mattermost Shared Channels from chat",
    long_about = "sharebot is a Mattermost bot for Shared Channels (Connected Workspaces).\n\
It DMs every system admin about incoming shared channels so they can accept them into a team \
or reject them, and answers @sharebot commands in an admin channel to create and accept secure \
connections, share and unshare channels, and report status.\n\n\
Configuration comes from bot.toml (see --config) and SHAREBOT_<SECTION>__<KEY> environment \
variables; secrets come only from the environment or *_file keys."
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
    /// Apply database migrations and exit.
    Migrate(ConfigArg),
    /// Run a Mattermost-compatible sandbox server (for tests and trying sharebot out).
    Sandbox(crate::sandbox::cli::SandboxArgs),
    /// Run the demo: two sandbox organizations and a sharebot for each, end to end.
    Demo(crate::demo::DemoArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Path to the configuration file [default: bot.toml when it exists; otherwise the
    /// environment alone configures the bot].
    #[arg(long, short = 'c', env = "SHAREBOT_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Loads the configuration, printing every error and how to fix it when it is invalid.
    fn load(&self) -> Result<Config, ExitCode> {
        let default = PathBuf::from("bot.toml");
        let file = match &self.config {
            Some(path) => Some(path.as_path()),
            None if default.exists() => Some(default.as_path()),
            None => None,
        };
        Config::load(file).map_err(|errors| {
            eprint!("error: {errors}");
            eprintln!(
                "See `sharebot check-config --help` and the configuration reference in README.md."
            );
            ExitCode::from(EXIT_CONFIG)
        })
    }
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
                print!("{}", config.render());
                println!("\n# configuration is valid");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Migrate(arg) => match arg.load() {
            Ok(config) => migrate(config).await,
            Err(code) => code,
        },
        Command::Sandbox(args) => crate::sandbox::cli::run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
    }
}

/// Connects to the database and applies the migrations.
async fn open_store(config: &Config) -> Result<Store, ExitCode> {
    Store::open(&config.database).await.map_err(|err| {
        tracing::error!(database = %config.database.display_url, "{err}");
        eprintln!("error: {err}");
        ExitCode::FAILURE
    })
}

async fn migrate(config: Config) -> ExitCode {
    crate::logging::init(&config.log);
    match open_store(&config).await {
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
    let bot = match crate::bot::start(&config, crate::bot::Tuning::default(), None).await {
        Ok(bot) => bot,
        Err(err) => {
            tracing::error!("cannot start: {err}");
            eprintln!("error: {err}");
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
