//! The typed Mattermost client: REST, WebSocket and models. Nothing outside this module builds a Mattermost URL.

mod api_channels;
mod api_remote;
mod api_users;
mod client;
mod error;
pub mod models;
mod retry;
mod route;

pub use api_channels::ChannelPostsQuery;
pub use client::{ApiObserver, Client, ClientOptions};
pub use error::{Error, Result};
pub use retry::{rate_limit_wait, Backoff};
