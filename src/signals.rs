//! Stop signals (Ctrl-C, SIGTERM) for every long-running command, installed before the
//! command announces that it is ready.

/// Handlers for Ctrl-C and SIGTERM, registered when made: a signal that arrives after
/// [`StopSignal::install`] and before [`StopSignal::wait`] is kept, not fatal to the process.
pub struct StopSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    /// Registers the handlers now (a supervisor may stop the process right after it reads
    /// the ready line, so this must come before that line is printed).
    pub fn install() -> StopSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignal {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            StopSignal {}
        }
    }

    /// Completes on the first Ctrl-C or SIGTERM received since [`StopSignal::install`].
    pub async fn wait(mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.interrupt) => {}
                _ = recv(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    }
}
