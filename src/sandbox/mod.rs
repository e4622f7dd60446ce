//! A Mattermost-compatible server (API v4 subset) for tests and the demo, shaped like the real server.

pub mod cli;
pub mod faults;
pub mod invite;
pub mod recorder;
pub mod websocket;
