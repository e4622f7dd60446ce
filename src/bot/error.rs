//! Why the bot could not start or stopped, in words an admin can act on.

use crate::mattermost;
use crate::store::StoreError;

/// Start-up and run-time failures of the bot process.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A message template does not compile or render (exit code 2, as bad configuration).
    #[error("{0} (templates.dir)")]
    Template(#[from] crate::notify::TemplateError),
    /// The Mattermost server refused the bot's token.
    #[error("Mattermost refused the bot token (HTTP {status}: {message}); check mattermost.token (SHAREBOT_MATTERMOST__TOKEN): it must be a valid access token of the bot account")]
    TokenRefused { status: u16, message: String },
    /// Mattermost could not be reached or answered an error during start-up.
    #[error("cannot {doing} on Mattermost at {url}: {source}")]
    Mattermost {
        doing: &'static str,
        url: String,
        #[source]
        source: mattermost::Error,
    },
    /// Something an admin must set up in Mattermost before the bot can run.
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr} (server.listen): {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}
