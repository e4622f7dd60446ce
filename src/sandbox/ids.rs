//! Ids and times as the sandbox hands them out: Mattermost ids (the crate's generator) and
//! milliseconds since the epoch.

pub use crate::ids::{is_valid_id, new_id, now_ms};
