//! The typed Mattermost client: REST, WebSocket and models. Nothing outside this module builds a Mattermost URL.
//!
//! - [`Client`]: one async method per endpoint the bot uses (users, teams, channels, posts,
//!   dialogs, remote clusters, shared channels). Idempotent calls are retried on 5xx, timeouts
//!   and connection errors; creates are not (a retry could post twice). A 429 holds back every
//!   call of the client until the server's reset time. Failures are an [`Error`] whose
//!   [`Error::user_message`] is fit for a chat reply.
//! - [`Client::websocket`]: the event listener. It yields [`WsMessage`]s: `Connected`, each
//!   `Event` once and in order, `ResyncNeeded` when events were lost (answer it by reconciling
//!   over REST), `Disconnected`; its [`ConnectionState`] watch feeds `/readyz`.
//! - [`models`]: the JSON shapes, with the server's field names.

mod api_channels;
mod api_person;
mod api_remote;
mod api_teams;
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
