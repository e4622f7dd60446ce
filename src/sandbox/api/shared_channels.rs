//! Shared channel routes: invite and uninvite a connection to a channel, a connection's
//! channel links, a team's shared channels, and what members may know of a connection
//! (`api4/shared_channel.go`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::model::records::{
    RemoteCluster, RemoteClusterInfo, SharedChannel, SharedChannelRemote,
};
use super::super::model::Channel;
use super::remote_clusters::missing_remote;
use super::request::{flag, path_id, Caller, Paging};

/// The connection and channel of an invite/uninvite, checked in the server's order: the
/// permission (`manage_secure_connections`, reported as `manage_shared_channels`), a live
/// connection (else 400), an existing channel (else 400).
fn target(
    state: &Shared,
    caller: &Caller,
    remote_id: &str,
    channel_id: &str,
) -> ApiResult<(RemoteCluster, Channel)> {
    path_id("remote_id", remote_id)?;
    path_id("channel_id", channel_id)?;
    caller.require_admin("manage_shared_channels")?;
    let db = state.db();
    let rc = db
        .remote(remote_id, false)
        .cloned()
        .ok_or_else(|| AppError::remote_id_invalid(400, remote_id))?;
    let channel = db
        .channels
        .get(channel_id)
        .cloned()
        .ok_or_else(|| AppError::invalid_url_param("channel_id"))?;
    Ok((rc, channel))
}

/// `POST /remotecluster/{remote_id}/channels/{channel_id}/invite`: shares the channel if
/// needed and offers it to the connection; 200 at once (the other server answers later).
pub(crate) async fn invite(
    State(state): State<Shared>,
    caller: Caller,
    Path((remote_id, channel_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (rc, channel) = target(&state, &caller, &remote_id, &channel_id)?;
    state
        .federation
        .service
        .invite_to_channel(&state, &channel, &rc, &caller.user.id)?;
    Ok(status_ok().into_response())
}

/// `POST /remotecluster/{remote_id}/channels/{channel_id}/uninvite`: 204 when the channel is
/// not shared with that connection, else 200.
pub(crate) async fn uninvite(
    State(state): State<Shared>,
    caller: Caller,
    Path((remote_id, channel_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (rc, channel) = target(&state, &caller, &remote_id, &channel_id)?;
    if state
        .federation
        .service
        .uninvite_from_channel(&state, &channel.id, &rc.remote_id)
    {
        Ok(status_ok().into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct LinkQuery {
    #[serde(flatten)]
    paging: Paging,
    include_unconfirmed: Option<String>,
    exclude_confirmed: Option<String>,
    exclude_home: Option<String>,
    exclude_remote: Option<String>,
    include_deleted: Option<String>,
}

/// `GET /remotecluster/{remote_id}/sharedchannelremotes`: by default confirmed, live links.
pub(crate) async fn links_of_remote(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
    Query(query): Query<LinkQuery>,
) -> ApiResult<Json<Vec<SharedChannelRemote>>> {
    path_id("remote_id", &remote_id)?;
    caller.require_admin("manage_secure_connections")?;
    let db = state.db();
    db.remote(&remote_id, true).ok_or_else(missing_remote)?;
    let home = |channel_id: &str| db.shared_channels.get(channel_id).map(|sc| sc.home);
    let mut list: Vec<SharedChannelRemote> = db
        .shared_channel_remotes
        .values()
        .filter(|scr| scr.remote_id == remote_id)
        .filter(|scr| flag(&query.include_deleted) || scr.delete_at == 0)
        .filter(|scr| {
            if scr.is_invite_confirmed {
                !flag(&query.exclude_confirmed)
            } else {
                flag(&query.include_unconfirmed) || flag(&query.exclude_confirmed)
            }
        })
        .filter(|scr| !flag(&query.exclude_home) || home(&scr.channel_id) != Some(true))
        .filter(|scr| !flag(&query.exclude_remote) || home(&scr.channel_id) != Some(false))
        .cloned()
        .collect();
    drop(db);
    list.sort_by(|a, b| a.create_at.cmp(&b.create_at).then(a.id.cmp(&b.id)));
    Ok(Json(query.paging.apply(list)?))
}

/// `GET /sharedchannels/{team_id}`: the team's shared channels (only the caller's own channels
/// without `manage_shared_channels`). The record keeps the team the channel had when shared.
pub(crate) async fn of_team(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
    Query(paging): Query<Paging>,
) -> ApiResult<Json<Vec<SharedChannel>>> {
    path_id("team_id", &team_id)?;
    let db = state.db();
    if !db.can_view_team(&caller.user, &team_id) {
        return Err(caller.denied("view_team"));
    }
    let mut list: Vec<SharedChannel> = db
        .shared_channels
        .values()
        .filter(|sc| sc.team_id == team_id)
        .filter(|sc| caller.is_admin() || db.is_channel_member(&sc.id, &caller.user.id))
        .cloned()
        .collect();
    drop(db);
    list.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    Ok(Json(paging.apply(list)?))
}

#[derive(Deserialize, Default)]
pub(crate) struct InfoQuery {
    include_deleted: Option<String>,
}

/// `GET /sharedchannels/remote_info/{remote_id}`: for members of a channel shared with it.
pub(crate) async fn remote_info(
    State(state): State<Shared>,
    caller: Caller,
    Path(remote_id): Path<String>,
    Query(query): Query<InfoQuery>,
) -> ApiResult<Json<RemoteClusterInfo>> {
    path_id("remote_id", &remote_id)?;
    let db = state.db();
    let invalid = || AppError::remote_id_invalid(404, &remote_id);
    let rc = db
        .remote(&remote_id, flag(&query.include_deleted))
        .ok_or_else(invalid)?;
    let shares_with_caller = db.shared_channel_remotes.values().any(|scr| {
        scr.remote_id == remote_id && db.is_channel_member(&scr.channel_id, &caller.user.id)
    });
    if !shares_with_caller {
        return Err(invalid());
    }
    Ok(Json(rc.info()))
}

/// `GET /sharedchannels/{channel_id}/remotes`: the connections a readable shared channel is
/// linked to.
pub(crate) async fn remotes_of_channel(
    State(state): State<Shared>,
    caller: Caller,
    Path(channel_id): Path<String>,
) -> ApiResult<Json<Vec<RemoteClusterInfo>>> {
    path_id("channel_id", &channel_id)?;
    let db = state.db();
    super::channels::readable_channel(&db, &caller, &channel_id)?;
    if !db.shared_channels.contains_key(&channel_id) {
        return Err(AppError::new(
            500,
            "api.command_share.fetch_remote_status.error",
            "Could not fetch the status of the channel's remotes.",
        )
        .detail("channel is not shared"));
    }
    let list = db
        .channel_remotes(&channel_id)
        .iter()
        .filter_map(|scr| db.remote(&scr.remote_id, true).map(RemoteCluster::info))
        .collect();
    Ok(Json(list))
}
