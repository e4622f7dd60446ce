//! REST behaviour of the sandbox, checked as a client of the real server would see it: one
//! test binary, a module per resource.

#[path = "../support/mod.rs"]
mod support;

mod actions;
mod auth;
mod move_channel;
mod posts;
mod reactions;
mod system;
mod teams_channels;
mod users;
mod webhooks;
