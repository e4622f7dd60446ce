//! Carrying out a decision against Mattermost, then showing it on every admin's copy.
//! Accept: every channel member joins the destination team, then the channel is moved
//! (never with `force`, which would drop members), then the deciding admin joins the
//! channel. Reject: a notice in the channel (it syncs to the sender), the remote uninvited,
//! the channel archived. Each step is safe to repeat, so a restart finishes the work.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::mattermost::models::{SharedChannelRemoteFilter, Team};
use crate::mattermost::Client;
use crate::store::{Decider, How, RequestState, ReviewRequest, Verdict};

use super::context::{team_name, Context};
use super::message::render;
use super::ReviewError;

/// The server's answer when channel members are missing from the destination team.
const MEMBERS_DO_NOT_MATCH: &str = "app.channel.move_channel.members_do_not_match.error";
/// How many times a move is retried after people joined the channel meanwhile.
const MOVE_ATTEMPTS: usize = 4;

/// Applies the claimed decision of `request_id` and updates every post about it.
pub async fn decision(ctx: &Context, request_id: &str) {
    let Ok(Some(request)) = ctx.store.request(request_id).await else {
        return;
    };
    if request.state != RequestState::Pending {
        return;
    }
    let Some(verdict) = request.deciding else {
        return;
    };
    let result = match verdict {
        Verdict::Accept => accept(ctx, &request).await,
        Verdict::Reject => reject(ctx, &request).await,
        // Never claimed: a relocation has its own record and a withdrawal nothing to carry out.
        Verdict::Relocate | Verdict::Withdraw => return,
    };
    let teams = ctx.teams().await.unwrap_or_default();
    let decider = request.decided_by.clone().unwrap_or(Decider::Sharebot);
    let actor = decider.as_str();
    match result {
        Ok(()) => {
            // The steps after the work are recorded too, so a restart finishes them once:
            // the deciding admin joins, the audit row is written, then the decision is done.
            let request = match ctx.store.request(&request.id).await {
                Ok(Some(now)) => now,
                _ => request,
            };
            if verdict == Verdict::Accept && !request.did("decider") {
                add_member(ctx, &request, decider.admin(), &teams).await;
                if let Err(err) = ctx.store.add_progress(&request.id, "decider").await {
                    tracing::error!(request = %request.id, "cannot record a decision step (finished at the next reconcile): {err}");
                    return;
                }
            }
            // The database keeps no click from a dialog; both are audited alike.
            let what = verdict.audit_action(request.how().unwrap_or(How::Click));
            let detail = json!({
                "channel": request.channel_display_name, "org": request.org_name,
                "team_id": request.team_id, "note": request.note,
            });
            if let Err(err) = ctx
                .store
                .audit_step(&request.id, "audit", actor, what, &detail.to_string())
                .await
            {
                tracing::error!(request = %request.id, "cannot write the audit log (finished at the next reconcile): {err}");
                return;
            }
            let done = match ctx.store.finish_decision(&request.id).await {
                Ok(Some(done)) => done,
                Ok(None) => return,
                Err(err) => {
                    tracing::error!(request = %request.id, "cannot record a finished decision (finished at the next reconcile): {err}");
                    return;
                }
            };
            tracing::info!(request = %done.id, channel = %done.channel_display_name, state = done.state.as_str(), "decision applied");
            refresh_posts(ctx, &done, &teams).await;
        }
        Err(err) => {
            let action = verdict.as_str();
            tracing::warn!(request = %request.id, action, "decision failed, request pending again: {err}");
            let reason = err.user_message();
            let _ = ctx
                .store
                .audit(actor, verdict.failed_audit_action(), &request.id, &reason)
                .await;
            let again = ctx.store.abandon_decision(&request.id).await.ok().flatten();
            if let Some(again) = &again {
                refresh_posts(ctx, again, &teams).await;
            }
            if let Some(admin) = decider.admin() {
                let team = team_name(&teams, request.team_id.as_deref());
                match render(
                    ctx,
                    "decision_failed.md.j2",
                    &request,
                    json!({"action": verdict.as_str(), "team": team, "reason": reason}),
                ) {
                    Ok(text) => {
                        if let Err(err) = ctx.poster.direct_message(admin, text).await {
                            tracing::warn!("cannot tell the admin that the decision failed: {err}");
                        }
                    }
                    Err(err) => tracing::error!("{err}"),
                }
            }
        }
    }
}

/// Edits every post about `request` to show it as it stands; failures are retried by the
/// next reconcile (the post's recorded state stays behind).
pub async fn refresh_posts(ctx: &Context, request: &ReviewRequest, teams: &[Team]) {
    let Ok(notifications) = ctx.store.notifications(&request.id).await else {
        return;
    };
    let shown = request.shown_key();
    let edits = notifications
        .iter()
        .filter(|n| n.post_id.is_some())
        .map(|n| {
            let shown = shown.clone();
            async move {
                let post = ctx
                    .request_post(
                        request,
                        &n.admin_user_id,
                        n.chosen_team_id.as_deref(),
                        teams,
                    )
                    .await?;
                ctx.poster.edit(n, post, &shown).await?;
                Ok::<(), ReviewError>(())
            }
        });
    for result in futures_util::future::join_all(edits).await {
        if let Err(err) = result {
            tracing::warn!(request = %request.id, "cannot update a review message (retried at the next reconcile): {err}");
        }
    }
}

/// Puts the channel into `team_id` under the membership rule: everyone in the channel joins
/// the team first, then the channel moves without `force`; when people joined meanwhile the
/// server refuses the move and the loop adds them and tries again.
pub async fn place_channel(
    client: &Client,
    bot_id: &str,
    channel_id: &str,
    team_id: &str,
) -> Result<(), ReviewError> {
    for attempt in 1..=MOVE_ATTEMPTS {
        // One round trip for the channel and its active members, one for all the team adds.
        let (channel, users) = tokio::join!(
            client.get_channel(channel_id),
            client.active_users_in_channel(channel_id)
        );
        if channel?.team_id == team_id {
            hide_move_posts(client, bot_id, channel_id).await;
            return Ok(());
        }
        let users = users?;
        // Every rule the server applies is checked before the first add, so a refused
        // destination leaves nothing half done.
        let newcomers = super::destination::newcomers(client, team_id, &users).await?;
        let adds = newcomers
            .iter()
            .map(|user| client.add_team_member(team_id, &user.id));
        for added in futures_util::future::join_all(adds).await {
            added?;
        }
        match client.move_channel(channel_id, team_id, false).await {
            Ok(_) => {
                hide_move_posts(client, bot_id, channel_id).await;
                return Ok(());
            }
            Err(e) if e.app_error_id() == Some(MEMBERS_DO_NOT_MATCH) && attempt < MOVE_ATTEMPTS => {
                tracing::info!(
                    channel_id,
                    attempt,
                    "members joined during the move; adding them and trying again"
                );
            }
            Err(e) => {
                // A failed answer may still have moved it (the call is not retried).
                if client
                    .get_channel(channel_id)
                    .await
                    .is_ok_and(|c| c.team_id == team_id)
                {
                    return Ok(());
                }
                return Err(e.into());
            }
        }
    }
    Err(ReviewError::Refused(
        "people kept joining the channel while it was being moved".into(),
    ))
}

async fn accept(ctx: &Context, request: &ReviewRequest) -> Result<(), ReviewError> {
    let team_id = request
        .team_id
        .as_deref()
        .ok_or_else(|| ReviewError::Refused("no team was chosen".into()))?;
    place_channel(
        &ctx.client,
        &ctx.places.bot.id,
        &request.channel_id,
        team_id,
    )
    .await
}

/// Deletes the bot's "This channel has been moved to this team from …" posts in the channel.
/// The server syncs system posts (but for the channel's header, purpose and name) to the other
/// organization, so the move post would show it our team names (the inbox first of all); a
/// user may delete their own system post and the deletion syncs too (`api4/post.go`
/// `deletePost`; `sync_send_remote.go` sends deleted posts, `sync_recv.go` deletes them).
/// Best effort: the channel is placed already.
async fn hide_move_posts(client: &Client, bot_id: &str, channel_id: &str) {
    let hidden = async {
        let list = client
            .channel_posts(
                channel_id,
                &crate::mattermost::ChannelPostsQuery {
                    per_page: Some(NOTICE_PAGE_SIZE),
                    ..Default::default()
                },
            )
            .await?;
        for post in list.posts.values().filter(|p| {
            p.post_type == "system_move_channel" && p.user_id == bot_id && p.delete_at == 0
        }) {
            client.delete_post(&post.id).await?;
        }
        Ok::<(), crate::mattermost::Error>(())
    };
    if let Err(err) = hidden.await {
        tracing::warn!(
            channel_id,
            "cannot delete the move's system post: {}",
            err.user_message()
        );
    }
}

/// Adds `admin` (who accepted or moved the channel) to the channel in its team
/// (`request.team_id`), joining the team first when they are not in it; when the server
/// refuses, the admin is told by DM (the channel is placed already).
async fn add_member(ctx: &Context, request: &ReviewRequest, admin: Option<&str>, teams: &[Team]) {
    let Some(admin) = admin else {
        return;
    };
    let Some(team_id) = request.team_id.as_deref() else {
        return;
    };
    let joined = match ctx.client.team_member(team_id, admin).await {
        Ok(m) if m.delete_at == 0 => Ok(()),
        _ => ctx.client.add_team_member(team_id, admin).await.map(|_| ()),
    };
    let joined = match joined {
        Ok(()) => ctx
            .client
            .add_channel_member(&request.channel_id, admin)
            .await
            .map(|_| ()),
        Err(err) => Err(err),
    };
    if let Err(err) = joined {
        let reason = err.user_message();
        tracing::warn!(request = %request.id, "cannot add the deciding admin to the channel: {reason}");
        let context =
            json!({"action": "join", "team": team_name(teams, Some(team_id)), "reason": reason});
        match render(ctx, "decision_failed.md.j2", request, context) {
            Ok(text) => {
                if let Err(err) = ctx.poster.direct_message(admin, text).await {
                    tracing::warn!("cannot tell the admin they were not added: {err}");
                }
            }
            Err(err) => tracing::error!("{err}"),
        }
    }
}

async fn reject(ctx: &Context, request: &ReviewRequest) -> Result<(), ReviewError> {
    let channel = ctx.client.get_channel(&request.channel_id).await?;
    if !channel.is_archived() {
        if !request.did("told") {
            let notice = notice(ctx, request).await?;
            if wait_until_synced(ctx, request, &notice).await {
                ctx.store.add_progress(&request.id, "told").await?;
            }
        }
        ctx.client
            .uninvite_remote_from_channel(&request.remote_id, &request.channel_id)
            .await?;
        ctx.client.archive_channel(&request.channel_id).await?;
    } else {
        // Archived already (a restart after the last step): make sure it no longer syncs.
        ctx.client
            .uninvite_remote_from_channel(&request.remote_id, &request.channel_id)
            .await?;
    }
    Ok(())
}

/// The prop naming the request a reject notice was posted for: a retry or a restart finds the
/// notice by it instead of posting a second one.
const NOTICE_PROP: &str = "sharebot_reject_notice";
/// How far back (in pages of the channel's newest posts) a retry looks for its notice.
const NOTICE_PAGES: u32 = 5;
const NOTICE_PAGE_SIZE: u32 = 200;

/// The reject notice in the channel as the server stored it (its `update_at` is on the
/// server's clock): the one posted for this request before (a retry after a failed step, a
/// restart right after posting), else a new one.
async fn notice(
    ctx: &Context,
    request: &ReviewRequest,
) -> Result<crate::mattermost::models::Post, ReviewError> {
    // The bot may not be in the channel when someone else made the connection; it must be to
    // read the channel and to post.
    ctx.client
        .add_channel_member(&request.channel_id, &ctx.places.bot.id)
        .await?;
    if let Some(found) = posted_notice(ctx, request).await? {
        return Ok(found);
    }
    // The other side learns who declined by our site name; without it the notice still goes.
    let site_name = ctx.client.site_name().await.unwrap_or_else(|err| {
        tracing::warn!(
            "cannot read the site name for the reject notice: {}",
            err.user_message()
        );
        String::new()
    });
    let reason = request.note.as_deref().unwrap_or_default();
    let text = render(
        ctx,
        "reject_notice.md.j2",
        request,
        json!({"site_name": site_name.trim(), "reason": reason}),
    )?;
    let mut post = crate::mattermost::models::Post {
        channel_id: request.channel_id.clone(),
        message: text,
        ..Default::default()
    };
    post.props
        .other
        .insert(NOTICE_PROP.into(), json!(request.id));
    let posted = ctx.client.create_post(&post).await?;
    ctx.store.add_progress(&request.id, "notice").await?;
    Ok(posted)
}

/// The bot's notice for `request` among the channel's newest posts, if it was posted.
async fn posted_notice(
    ctx: &Context,
    request: &ReviewRequest,
) -> Result<Option<crate::mattermost::models::Post>, ReviewError> {
    for page in 0..NOTICE_PAGES {
        let list = ctx
            .client
            .channel_posts(
                &request.channel_id,
                &crate::mattermost::ChannelPostsQuery {
                    page: Some(page),
                    per_page: Some(NOTICE_PAGE_SIZE),
                    ..Default::default()
                },
            )
            .await?;
        let found = list.posts.values().find(|p| {
            p.user_id == ctx.places.bot.id
                && p.delete_at == 0
                && p.props.other.get(NOTICE_PROP).and_then(|v| v.as_str())
                    == Some(request.id.as_str())
        });
        if let Some(found) = found {
            return Ok(Some(found.clone()));
        }
        if list.order.len() < NOTICE_PAGE_SIZE as usize {
            break;
        }
    }
    Ok(None)
}

/// Waits, for at most `notice_sync_wait`, until the connection's sync cursor has passed the
/// notice itself. The cursor is the server's `(last_post_update_at, last_post_id)` on the
/// server's clock, and it also moves over posts the sync filtered out, so only the notice's
/// own `(update_at, id)` tells that the notice went out (`sync_send_remote.go`).
async fn wait_until_synced(
    ctx: &Context,
    request: &ReviewRequest,
    notice: &crate::mattermost::models::Post,
) -> bool {
    let deadline = Instant::now() + ctx.notice_sync_wait;
    let wanted = (notice.update_at, notice.id.as_str());
    loop {
        let links = ctx
            .client
            .shared_channel_remotes(
                &request.remote_id,
                &SharedChannelRemoteFilter {
                    exclude_home: true,
                    ..SharedChannelRemoteFilter::default()
                },
            )
            .await;
        if let Ok(links) = links {
            if links.iter().any(|l| {
                l.channel_id == request.channel_id
                    && (l.last_post_update_at, l.last_post_id.as_str()) >= wanted
            }) {
                return true;
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(request = %request.id, "the reject notice was not confirmed as received by the other organization in time");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves an accepted channel to team `to` for admin `by` (same membership rule as Accept).
/// The relocation is recorded before it starts; the mover joins, then the new team and the
/// audit row are recorded together and every post updated. A failure rolls the record back
/// and is reported to `by` by DM. A restart finds a recorded relocation and runs this again.
pub async fn relocation(ctx: &Context, request: &ReviewRequest, to: &str, by: &str) {
    let from = request.team_id.clone().unwrap_or_default();
    if request.relocating_to.as_deref() != Some(to) {
        match ctx.store.begin_relocation(&request.id, &from, to, by).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(request = %request.id, "not moved: it changed meanwhile");
                return;
            }
            Err(err) => {
                tracing::error!(request = %request.id, "cannot record a relocation: {err}");
                return;
            }
        }
    }
    let result = place_channel(&ctx.client, &ctx.places.bot.id, &request.channel_id, to).await;
    let teams = ctx.teams().await.unwrap_or_default();
    match result {
        Ok(()) => {
            let moved = ReviewRequest {
                team_id: Some(to.to_string()),
                ..request.clone()
            };
            add_member(ctx, &moved, Some(by), &teams).await;
            let detail = json!({
                "channel": request.channel_display_name,
                "from_team_id": from, "from_team": team_name(&teams, Some(&from)),
                "to_team_id": to, "to_team": team_name(&teams, Some(to)),
            });
            if let Err(err) = ctx
                .store
                .finish_relocation(&request.id, &detail.to_string())
                .await
            {
                tracing::error!(request = %request.id, "cannot record a relocation (finished at the next reconcile): {err}");
                return;
            }
            if let Ok(Some(now)) = ctx.store.request(&request.id).await {
                refresh_posts(ctx, &now, &teams).await;
            }
        }
        Err(err) => {
            let reason = err.user_message();
            if let Err(err) = ctx.store.abandon_relocation(&request.id).await {
                tracing::error!(request = %request.id, "cannot roll back a relocation record: {err}");
            }
            let _ = ctx
                .store
                .audit(
                    by,
                    Verdict::Relocate.failed_audit_action(),
                    &request.id,
                    &reason,
                )
                .await;
            let context = json!({"action": Verdict::Relocate.as_str(), "team": team_name(&teams, Some(to)), "reason": reason});
            if let Ok(text) = render(ctx, "decision_failed.md.j2", request, context) {
                let _ = ctx.poster.direct_message(by, text).await;
            }
        }
    }
}
