//! sharebot: chat-ops for Mattermost Shared Channels.
//!
//! Data flows one way: transport ([`mattermost`], [`http`]) → domain ([`review`],
//! [`commands`], side by side in [`domain`]) → [`store`].
//! [`sandbox`] is a Mattermost-compatible test double used by the tests and the demo.

pub mod bench;
pub mod bot;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod exit;
pub mod http;
pub mod ids;
pub mod logging;
pub mod mattermost;
pub mod metrics;
pub mod notify;
pub mod review;
pub mod sandbox;
pub mod signals;
pub mod store;
pub mod watch;
