//! The sandbox's WebSocket endpoint (`/api/v4/websocket`): authentication, `hello`, per-connection
//! `seq`, resumable connections with a bounded replay buffer, and event fan-out.
//!
//! Shaped like the real server (`server/channels/api4/websocket.go`,
//! `server/channels/app/platform/web_conn.go`, `web_hub.go`, `websocket_router.go`):
//! - a bad or missing token on the upgrade still upgrades; the socket then waits (5 s) for an
//!   `authentication_challenge`, and a challenge with a bad token closes the socket;
//! - a fresh connection gets `hello` (seq 0); `seq` is given when an event is handed to a
//!   socket, and the last 128 handed over are kept (the server's dead queue);
//! - a reconnect with query `connection_id` + `sequence_number` naming a *disconnected*
//!   connection of the same user resumes it without `hello`: from the dead queue when that seq is
//!   still there, or losslessly when it is the next one; otherwise (loss) it gets a new
//!   `connection_id` and `hello` at seq 0. Unknown, swept, still-open or forgotten connections
//!   start afresh;
//! - a sweep every 5 minutes from the hub's start removes each connection without a socket
//!   whose last activity is more than 5 minutes old (`RemoveInactiveConnections`). Activity is
//!   the attaching of a socket and, while one is attached, the REST calls the server counts
//!   (creating a post, viewing a channel) made with the same token: pings, events and calls
//!   made while disconnected do not count. So a connection dropped after an idle spell is
//!   gone at the next tick, possibly moments after the drop;
//! - events for a disconnected connection wait in its send queue (256) and go out, numbered,
//!   after the resume; a connection whose queue fills up (a slow live socket or too much waiting)
//!   is closed (close frame) and removed, as `closeAndRemoveConn` does.
//!
//! `hub` keeps the connections and fans events out, `session` serves one socket, `frames` is
//! the JSON they exchange.

mod activity;
mod frames;
mod hub;
mod session;

pub use self::activity::activity;

pub use self::frames::Broadcast;
pub use self::hub::{
    Hub, TokenCheck, TypingHandler, DEAD_QUEUE_SIZE, INACTIVE_CONN_REAPER_INTERVAL,
};
