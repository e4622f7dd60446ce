//! Bot tuning for tests: short timeouts and backoffs, so drops and retries take milliseconds.

use std::time::Duration;

use sharebot::bot::Tuning;
use sharebot::mattermost::{Backoff, ClientOptions, WsOptions};

/// The production tuning with test-sized timeouts, backoffs and flush interval.
pub fn fast_tuning() -> Tuning {
    Tuning {
        client: ClientOptions {
            request_timeout: Duration::from_secs(5),
            backoff: Backoff {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
            },
            ..ClientOptions::default()
        },
        websocket: WsOptions {
            ping_interval: Duration::from_secs(2),
            backoff: Backoff {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(200),
            },
            ..WsOptions::default()
        },
        resume_flush: Duration::from_millis(20),
        ..Tuning::default()
    }
}
