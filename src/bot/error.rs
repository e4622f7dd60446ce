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

impl BotError {
    /// What to try next, for failures with an obvious next step: when Mattermost cannot be
    /// reached at all (connection refused, DNS, TLS, timeout), which setting to check and how
    /// to try sharebot without a server.
    pub fn hint(&self) -> Option<String> {
        match self {
            BotError::Mattermost {
                url,
                source: mattermost::Error::Transport { .. } | mattermost::Error::Timeout { .. },
                ..
            } => Some(format!(
                "is Mattermost running at {url}? Check mattermost.url (SHAREBOT_MATTERMOST__URL). \
                 To try sharebot without a Mattermost server, run `sharebot demo`, or start a local \
                 stand-in with `sharebot sandbox` (see `sharebot sandbox --help`)."
            )),
            BotError::Store(store) => store.hint(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable(source: mattermost::Error) -> BotError {
        BotError::Mattermost {
            doing: "read the bot's own account",
            url: "http://127.0.0.1:1".into(),
            source,
        }
    }

    #[test]
    fn an_unreachable_mattermost_gets_a_hint_and_an_answer_does_not() {
        let refused = unreachable(mattermost::Error::Transport {
            route: "/api/v4/users/me",
            message: "Connection refused".into(),
        });
        let hint = refused.hint().expect("a hint");
        assert!(hint.contains("mattermost.url"), "{hint}");
        assert!(hint.contains("sharebot demo") && hint.contains("sharebot sandbox"));
        assert!(unreachable(mattermost::Error::Timeout {
            route: "/api/v4/users/me",
            after: std::time::Duration::from_secs(5),
        })
        .hint()
        .is_some());
        let answered = unreachable(mattermost::Error::Status {
            status: 502,
            route: "/api/v4/users/me",
            body: String::new(),
        });
        assert!(answered.hint().is_none());
        assert!(BotError::Setup("x".into()).hint().is_none());
    }
}
