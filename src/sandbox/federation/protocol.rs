//! What servers send each other (`model.RemoteClusterFrame`, `RemoteClusterMsg`,
//! `RemoteClusterPing`, the remote cluster `Response`, and the shared-channel payloads), with the
//! header names and topics of `server/platform/services/remotecluster` and `…/sharedchannel`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::model::{Post, Reaction, User};

/// The connection id the sender knows this server by (`model.HeaderRemoteclusterId`).
pub const HEADER_REMOTE_ID: &str = "X-RemoteCluster-Id";
/// The token this server issued to the sender (`model.HeaderRemoteclusterToken`).
pub const HEADER_REMOTE_TOKEN: &str = "X-RemoteCluster-Token";

pub const PING_PATH: &str = "/api/v4/remotecluster/ping";
pub const MSG_PATH: &str = "/api/v4/remotecluster/msg";
pub const CONFIRM_INVITE_PATH: &str = "/api/v4/remotecluster/confirm_invite";

pub const TOPIC_PING: &str = "ping";
pub const TOPIC_INVITATION: &str = "invitation";
pub const TOPIC_CHANNEL_INVITE: &str = "sharedchannel_invite";
pub const TOPIC_SYNC: &str = "sharedchannel_sync";

/// `model.RemoteClusterFrame`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Frame {
    #[serde(default)]
    pub remote_id: String,
    #[serde(default)]
    pub msg: Msg,
}

/// `model.RemoteClusterMsg`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Msg {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub create_at: i64,
    #[serde(default)]
    pub payload: Value,
}

/// `model.RemoteClusterPing`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ping {
    #[serde(default)]
    pub sent_at: i64,
    #[serde(default)]
    pub recv_at: i64,
}

/// `remotecluster.Response`: the answer to a `/msg` frame (HTTP 200 even on `FAIL`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Response {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub err: String,
    #[serde(default)]
    pub payload: Value,
}

impl Response {
    pub fn ok(payload: Value) -> Response {
        Response {
            status: "OK".into(),
            err: String::new(),
            payload,
        }
    }

    pub fn fail(err: impl Into<String>) -> Response {
        Response {
            status: "FAIL".into(),
            err: err.into(),
            payload: Value::Null,
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == "OK"
    }
}

/// `channelInviteMsg`: a channel offered to the receiving server.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ChannelInviteMsg {
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default, rename = "type")]
    pub channel_type: String,
}

/// `model.SyncMsg` (the parts the sandbox syncs: users, posts, reactions).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncMsg {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, User>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<Post>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
}

/// `model.SyncResponse`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncResponse {
    #[serde(default)]
    pub users_last_update_at: i64,
    #[serde(default)]
    pub user_errors: Vec<String>,
    #[serde(default)]
    pub users_syncd: Vec<String>,
    #[serde(default)]
    pub posts_last_update_at: i64,
    #[serde(default)]
    pub post_errors: Vec<String>,
    #[serde(default)]
    pub reactions_last_update_at: i64,
    #[serde(default)]
    pub reaction_errors: Vec<String>,
}
