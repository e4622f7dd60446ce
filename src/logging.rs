//! Logging setup: tracing to stderr, pretty or JSON, level from the configuration unless
//! `RUST_LOG` is set. Secrets never reach a log line because they are only ever held as
//! [`crate::config::Secret`], whose formatting is a mask.

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
