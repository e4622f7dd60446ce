//! The one error type of the Mattermost client layer, keeping the server's own error id and text.

use std::time::Duration;

/// Why a Mattermost call failed. Never carries the token or a request body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an `AppError` JSON body.
    #[error("Mattermost answered {status} on {route}: {id}: {message}")]
    Api {
        status: u16,
        /// Route template, e.g. `/api/v4/channels/{channel_id}/move`.
        route: &'static str,
        /// Stable error id, e.g. `api.channel.move_channel.type.invalid`.
        id: String,
        message: String,
        detailed_error: String,
        request_id: String,
    },
    /// The server answered with an error status and a body that is not an `AppError`
    /// (a proxy page, the router's plain 404…).
    #[error("Mattermost answered {status} on {route}")]
    Status {
        status: u16,
        route: &'static str,
        /// The first few hundred characters of the body, for the log.
        body: String,
    },
    /// No answer: connection refused, reset, DNS, TLS…
    #[error("could not reach Mattermost for {route}: {message}")]
    Transport {
        route: &'static str,
        message: String,
    },
    /// No complete answer within the request timeout.
    #[error("Mattermost did not answer {route} within {after:?}")]
    Timeout {
        route: &'static str,
        after: Duration,
    },
    /// A successful answer whose body is not the expected JSON.
    #[error("unexpected answer from Mattermost on {route}: {message}")]
    Decode {
        route: &'static str,
        message: String,
    },
    /// The server kept answering 429 for longer than the client is willing to wait.
    #[error("Mattermost rate limit on {route}: retry after {retry_after:?}")]
    RateLimited {
        route: &'static str,
        retry_after: Duration,
    },
    /// A caller passed something that cannot be sent (malformed id, empty name…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The client could not be built (bad base URL, bad token characters…).
    #[error("invalid Mattermost client configuration: {0}")]
    Config(String),
}

/// The client layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status the server answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Status { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The server's `AppError` id, when there is one.
    pub fn app_error_id(&self) -> Option<&str> {
        match self {
            Error::Api { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Whether the server said the thing does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the failure is on the way to or inside the server and may pass if tried later.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } | Error::RateLimited { .. } => true,
            Error::Api { status, .. } | Error::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Text fit for a chat reply to an admin: the server's own message when it gave one,
    /// otherwise a short description. Holds no token, password or internal detail.
    pub fn user_message(&self) -> String {
        match self {
            Error::Api { message, id, .. } if !message.is_empty() => {
                if id.is_empty() {
                    message.clone()
                } else {
                    format!("{message} ({id})")
                }
            }
            Error::Api { status, .. } | Error::Status { status, .. } => {
                format!("Mattermost answered with status {status}.")
            }
            Error::Transport { .. } => "Mattermost could not be reached.".to_owned(),
            Error::Timeout { .. } => "Mattermost did not answer in time.".to_owned(),
            Error::Decode { .. } => {
                "Mattermost sent an answer sharebot did not understand.".to_owned()
            }
            Error::RateLimited { retry_after, .. } => format!(
                "Mattermost is rate limiting sharebot; try again in {} s.",
                retry_after.as_secs().max(1)
            ),
            Error::InvalidInput(what) => format!("Invalid input: {what}."),
            Error::Config(_) => "sharebot's Mattermost connection is misconfigured.".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_message_prefers_server_text() {
        let e = Error::Api {
            status: 400,
            route: "/api/v4/channels/{channel_id}/move",
            id: "api.channel.move_channel.type.invalid".into(),
            message: "Direct and group message channels cannot be moved".into(),
            detailed_error: "internal detail".into(),
            request_id: "r".into(),
        };
        let text = e.user_message();
        assert!(text.contains("cannot be moved"));
        assert!(text.contains("api.channel.move_channel.type.invalid"));
        assert!(!text.contains("internal detail"));
        assert_eq!(e.status(), Some(400));
        assert!(!e.is_temporary());
    }

    #[test]
    fn temporary_errors() {
        assert!(Error::Timeout {
            route: "/x",
            after: Duration::from_secs(1)
        }
        .is_temporary());
        assert!(Error::Status {
            status: 502,
            route: "/x",
            body: String::new()
        }
        .is_temporary());
        assert!(!Error::InvalidInput("x".into()).is_temporary());
    }
}
