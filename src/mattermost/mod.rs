//! The typed Mattermost client: REST, WebSocket and models. Nothing outside this module builds a Mattermost URL.

mod api_channels;
mod api_remote;
mod api_setup;
mod api_users;
mod client;
mod error;
mod events;
pub mod models;
mod retry;
mod route;
mod websocket;

pub use api_channels::ChannelPostsQuery;
pub use client::{ApiObserver, Client, ClientOptions};
pub use error::{Error, Result};
pub use events::{Broadcast, Event};
pub use retry::{rate_limit_wait, Backoff};
pub use websocket::{
    ConnectionState, ResumeCallback, ResumePoint, ResyncReason, WsConfig, WsHandle, WsMessage,
    WsOptions,
};
