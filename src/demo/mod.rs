//! `sharebot demo`: two sandbox organizations and a sharebot for each, on loopback, driven
//! through the same HTTP APIs a person's client uses, with a narrated transcript.

use std::path::PathBuf;
use std::process::ExitCode;

/// `sharebot demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Play the scenario once and exit, instead of keeping everything running afterwards.
    #[arg(long)]
    pub once: bool,
    /// Where the bots keep their SQLite files [default: a temporary folder, removed at exit].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Runs the demo; the exit code says whether every step worked.
pub async fn run(args: DemoArgs) -> ExitCode {
    let _ = args;
    eprintln!("`sharebot demo` is not available yet");
    ExitCode::FAILURE
}
