//! Accepting another server's invite (`AcceptInvitation` in the server's remote cluster
//! service): the connection is saved with fresh tokens, then confirmed with the inviting
//! server; a confirmation that fails soft-deletes it again.

use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::invite_code::{RemoteClusterInvite, CURRENT_VERSION};
use super::super::model::records::RemoteCluster;
use super::outbound::{self, Target, SEND_TIMEOUT};
use super::pinger;
use super::protocol::{Response, CONFIRM_INVITE_PATH, TOPIC_INVITATION};
use crate::ids::new_id;

/// Accepts an opened invite as `draft` (name, display name, default team, creator) describes
/// it; returns the saved connection.
pub(crate) async fn accept(
    state: &Shared,
    invitation: &RemoteClusterInvite,
    draft: RemoteCluster,
) -> ApiResult<RemoteCluster> {
    let remote_token = if invitation.version >= 2 {
        new_id()
    } else {
        invitation.token.clone()
    };
    let mut rc = RemoteCluster {
        remote_id: invitation.remote_id.clone(),
        site_url: invitation.site_url.clone(),
        token: new_id(),
        remote_token: remote_token.clone(),
        ..draft
    };
    let now = state.db().now();
    rc.pre_save(now);
    rc.validate()?;
    {
        let mut db = state.db();
        // The store's key is (remote id, name): a second row for it is a constraint error.
        if db
            .remote_clusters
            .get(&rc.remote_id)
            .is_some_and(|old| old.name == rc.name)
        {
            return Err(AppError::accept_invitation(
                "duplicate key value violates unique constraint \"remoteclusters_pkey\"",
            ));
        }
        db.remote_clusters.insert(rc.remote_id.clone(), rc.clone());
    }
    let confirm = RemoteClusterInvite {
        remote_id: rc.remote_id.clone(),
        remote_team_id: String::new(),
        site_url: state.site_url.clone(),
        token: rc.token.clone(),
        refreshed_token: remote_token,
        version: CURRENT_VERSION,
    };
    // Confirmed with the token the invite carried; later calls use the refreshed one.
    let target = Target {
        site_url: &invitation.site_url,
        remote_id: &rc.remote_id,
        token: &invitation.token,
    };
    let msg = outbound::message(
        TOPIC_INVITATION,
        serde_json::to_value(&confirm).unwrap_or_default(),
    );
    let answer: Result<Response, _> =
        outbound::send(&state.http, &target, CONFIRM_INVITE_PATH, msg, SEND_TIMEOUT).await;
    let failure = match answer {
        Ok(reply) if reply.is_success() => None,
        Ok(reply) => Some(reply.err),
        Err(err) => Some(err.to_string()),
    };
    if let Some(reason) = failure {
        let mut db = state.db();
        let now = db.now();
        if let Some(saved) = db.remote_clusters.get_mut(&rc.remote_id) {
            saved.delete_at = now;
        }
        drop(db);
        return Err(AppError::accept_invitation(reason));
    }
    pinger::ping_soon(state, &rc.remote_id);
    Ok(rc)
}
