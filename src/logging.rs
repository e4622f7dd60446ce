//! Logging setup: tracing to stderr, pretty or JSON, level from the configuration unless
//! `RUST_LOG` is set, coloured only when stderr is a terminal. Secrets never reach a log line
//! because they are only ever held as [`crate::config::Secret`], whose formatting is a mask.

use std::io::IsTerminal;

use tracing_subscriber::filter::Directive;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Library targets whose trace output contains credentials, switched off whatever the
/// configured level: tungstenite's client handshake logs the whole upgrade request, bearer
/// token included.
const SILENCED: &[&str] = &["tungstenite::handshake::client=off"];

/// Installs the global subscriber; later calls are ignored (tests may call it more than once).
pub fn init(config: &LogConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(&config.level));
    let filter = SILENCED
        .iter()
        .fold(filter, |f, target| match target.parse::<Directive>() {
            Ok(d) => f.add_directive(d),
            Err(_) => f,
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour())
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Colour codes only for a person at a terminal: never in a file, a pipe or a log collector,
/// nor when `NO_COLOR` is set (<https://no-color.org>).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
