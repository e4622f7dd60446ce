//! `sharebot sandbox`: runs one sandbox instance until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
}

/// Runs the sandbox until Ctrl-C.
pub async fn run(_args: SandboxArgs) -> ExitCode {
    eprintln!("the sandbox is not built yet");
    ExitCode::from(1)
}
