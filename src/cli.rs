//! Command-line interface: `run`, `check-config`, `migrate`, `sandbox`, `demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Run the demo: sandbox instances and the bot, wired together (not available yet).
    Demo,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Path to the configuration file. When the default file does not exist, the environment alone is used.
    #[arg(long, short = 'c', default_value = "bot.toml", env = "SHAREBOT_CONFIG")]
    pub config: PathBuf,
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
        Command::Run(_) | Command::CheckConfig(_) | Command::Migrate(_) => {
            eprintln!("not implemented yet");
            ExitCode::FAILURE
        }
        Command::Sandbox(args) => crate::sandbox::cli::run(args).await,
        Command::Demo => {
            eprintln!("`sharebot demo` is not available yet");
            ExitCode::FAILURE
        }
    }
}
