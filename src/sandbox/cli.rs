//! `sharebot sandbox`: runs one sandbox instance until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{start, SandboxOptions, Seed};

/// Shown after `sharebot sandbox --help`: who can log in, and where the bot token comes from.
/// Kept in step with `default_seed.toml` by a test below.
pub const AFTER_HELP: &str = "\
Default seed (replace it with --seed FILE; the format is documented in src/sandbox/seed.rs):
  system admins  sysadmin / Sys@dmin-sample1 and sysadmin2 / Sys@dmin-sample2, in every team
  plain user     user-1 / SampleUs@r-1, only in engineering
  bot            sharebot (system_admin role, in every team), authenticated by the bot token
  teams          engineering and marketing (open), shared-inbox (invite only)
  channel        engineering/admins, private: both admins and the bot
People log in with these usernames and passwords through API v4 (POST /api/v4/users/login).

Bot token: --bot-token or SHAREBOT_SANDBOX_BOT_TOKEN, else the seed file's bot_token; when none
is given, a token is generated at start and printed on standard error as
`sandbox bot token (generated): <token>`. Give it to sharebot as SHAREBOT_MATTERMOST__TOKEN.

Once it accepts connections the sandbox prints `sandbox ready: <site url>` on standard output;
it runs until Ctrl-C or SIGTERM.";

/// Arguments of `sharebot sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8065")]
    pub listen: SocketAddr,
    /// Public base URL of this instance (defaults to http://<listen>).
    #[arg(long)]
    pub site_url: Option<String>,
    /// Name of this instance (shown as the organization name).
    #[arg(long)]
    pub name: Option<String>,
    /// TOML seed file replacing the default seed.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Access token of the `sharebot` bot account (generated and printed when absent).
    #[arg(long, env = "SHAREBOT_SANDBOX_BOT_TOKEN", hide_env_values = true)]
    pub bot_token: Option<String>,
    /// Seconds between pings of confirmed secure connections (the server pings every 60).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_secs: u64,
}

/// Runs the sandbox until Ctrl-C or SIGTERM; prints `sandbox ready: <site url>` once serving.
pub async fn run(args: SandboxArgs) -> ExitCode {
    let seed = match &args.seed {
        Some(path) => match Seed::from_file(path) {
            Ok(seed) => seed,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(crate::exit::CONFIG);
            }
        },
        None => Seed::default(),
    };
    let options = SandboxOptions {
        listen: args.listen,
        site_url: args.site_url,
        name: args.name.unwrap_or_else(|| "sandbox".into()),
        seed,
        bot_token: args.bot_token,
        federation: super::federation::FederationOptions {
            ping_interval: std::time::Duration::from_secs(args.ping_interval_secs),
            ..super::federation::FederationOptions::default()
        },
        ..SandboxOptions::default()
    };
    let stop = crate::signals::StopSignal::install();
    let sandbox = match start(options).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    if sandbox.bot_token_generated() {
        eprintln!("sandbox bot token (generated): {}", sandbox.bot_token());
    }
    println!("sandbox ready: {}", sandbox.site_url());
    let _ = std::io::stdout().flush();
    stop.wait().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_every_seeded_login_of_the_default_seed() {
        let seed = Seed::default();
        assert!(!seed.users.is_empty());
        for user in &seed.users {
            match &user.password {
                Some(password) => assert!(
                    AFTER_HELP.contains(&format!("{} / {password}", user.username)),
                    "the help lacks {} and its password",
                    user.username
                ),
                None => assert!(AFTER_HELP.contains(&user.username), "{}", user.username),
            }
        }
        for team in &seed.teams {
            assert!(AFTER_HELP.contains(&team.name), "{}", team.name);
        }
    }
}
