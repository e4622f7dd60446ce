//! Finding received shared channels and keeping everything in step with Mattermost: every
//! connection's received channels become exactly one request each; every admin has a DM about
//! every pending request; a request whose channel stopped being shared is withdrawn; posts
//! that fell behind are updated; decisions cut short by a restart are finished; reminders and
//! expiry. Runs at start-up, every `review.reconcile_every`, after a resync, and at once when
//! the bot's socket says a channel arrived.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::mattermost::models::{
    Channel, RemoteCluster, RemoteClusterFilter, SharedChannelRemoteFilter, Team, User,
};
use crate::metrics::Metrics;
use crate::notify::Target;
use crate::store::{Claim, Decider, How, NewRequest, Policy, RequestState, ReviewRequest, Verdict};

use super::message::render;
use super::{apply, Review, ReviewError, BOT_ACTOR};

/// Pending requests read at a time in a pass.
const PAGE: i64 = 500;

impl Review {
    /// One pass. Errors of one connection or request are logged and the rest go on.
    ///
    /// A pass that finds nothing new costs the connections' list and each connection's link
    /// lists, and the admin list: the pending channels are re-read only after an event says one
    /// may have changed (or events were lost), the team list only then or at its own period.
    pub async fn reconcile_once(&self) -> Result<(), ReviewError> {
        let _one_at_a_time = self.discovery.lock().await;
        let recheck = self.take_recheck();
        let pass = self.pass(recheck).await;
        if pass.is_err() && recheck {
            self.recheck_next_pass();
        }
        pass
    }

    async fn pass(&self, recheck: bool) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        let (admins, teams) = ctx.admins_and_teams(recheck).await?;
        // Every admin's DM channel is opened ahead of need, so a review DM is one round trip.
        ctx.poster
            .open_dms(admins.iter().map(|a| a.id.as_str()))
            .await;

        // Decisions a restart cut short are finished first (they hold their request's lock).
        for request in ctx.store.decisions_in_progress().await? {
            if !self.is_applying(&request.id) {
                self.spawn_apply(request.id.clone());
            }
        }

        // So are relocations recorded but neither finished nor rolled back.
        for request in ctx.store.relocations_in_progress().await? {
            if let (Some(to), Some(by)) =
                (request.relocating_to.clone(), request.relocating_by.clone())
            {
                if !self.is_applying(&request.id) {
                    self.spawn_relocate(request, to, by);
                }
            }
        }

        // Requests opened after this instant (an arrival served beside this pass) may be
        // missing from the links read below: they count as still shared until the next pass.
        let pass_started = crate::ids::now_ms();
        let remotes = ctx
            .client
            .list_remote_clusters(&RemoteClusterFilter::default())
            .await?;
        ctx.remember_remotes(&remotes);
        let mut live_links: HashSet<(String, String)> = HashSet::new();
        let mut listed: HashSet<String> = HashSet::new();
        // Channels read (alive) during this pass need no second look below.
        let mut read_now: HashSet<String> = HashSet::new();
        for remote in remotes.iter().filter(|r| r.delete_at == 0) {
            match self
                .discover_connection(remote, &teams, &mut live_links, &mut read_now)
                .await
            {
                Ok(()) => {
                    listed.insert(remote.remote_id.clone());
                }
                Err(err) => {
                    tracing::warn!(remote = %remote.name, "cannot read the connection's channels: {err}")
                }
            }
        }
        // A deleted connection's channels are no longer shared with us.
        for remote in remotes.iter().filter(|r| r.delete_at != 0) {
            listed.insert(remote.remote_id.clone());
        }

        let mut pages = ctx.store.pending_pages(PAGE);
        let mut gone_through = 0;
        while let Some(page) = pages.next().await? {
            gone_through += page.len() as u64;
            for request in page {
                if request.deciding.is_some() {
                    continue;
                }
                let opened_meanwhile = request.created_at >= pass_started;
                let still_shared = opened_meanwhile
                    || !listed.contains(&request.remote_id)
                    || live_links
                        .contains(&(request.remote_id.clone(), request.channel_id.clone()));
                let channel_alive =
                    if still_shared && (!recheck || read_now.contains(&request.channel_id)) {
                        // Still linked and nothing said it changed since it was last read.
                        true
                    } else if still_shared {
                        match ctx.client.get_channel(&request.channel_id).await {
                            // Unshared by the sender (its `/share-channel unshare` clears `shared` here).
                            Ok(c) => !c.is_archived() && c.is_shared(),
                            Err(e) if e.is_not_found() => false,
                            Err(_) => true,
                        }
                    } else {
                        false
                    };
                if !(still_shared && channel_alive) {
                    if ctx.store.withdraw(&request.id).await? {
                        ctx.store
                            .audit(
                                BOT_ACTOR,
                                Verdict::Withdraw.audit_action(How::Withdrawal),
                                &request.id,
                                &format!(
                                    "channel {} from {}",
                                    request.channel_display_name, request.org_name
                                ),
                            )
                            .await?;
                        tracing::info!(channel = %request.channel_display_name, org = %request.org_name, "request withdrawn: no longer shared");
                        let waited = Metrics::since(request.created_at);
                        ctx.metrics
                            .decision(Verdict::Withdraw, How::Withdrawal, waited);
                    }
                    continue;
                }
                self.notify_admins(&request, &admins, &teams).await;
            }
        }

        ctx.metrics.reconcile_requests(gone_through);
        self.bring_posts_up_to_date(&teams).await?;
        self.remind_and_expire().await?;
        self.learn_declines(&remotes).await;
        Ok(())
    }

    /// Reads one connection's received channels, recording new ones.
    async fn discover_connection(
        &self,
        remote: &RemoteCluster,
        teams: &[Team],
        live_links: &mut HashSet<(String, String)>,
        read_now: &mut HashSet<String>,
    ) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        let policy = match ctx.store.policy(&remote.remote_id).await? {
            Some(p) => p,
            None => {
                // A connection made elsewhere (System Console): review when its channels land
                // in the inbox team, auto-accept into its default team otherwise.
                let (policy, team) = if remote.default_team_id == ctx.places.inbox_team.id
                    || remote.default_team_id.is_empty()
                {
                    (Policy::Review, None)
                } else {
                    (Policy::AutoAccept, Some(remote.default_team_id.as_str()))
                };
                ctx.store
                    .audit(
                        BOT_ACTOR,
                        "connection.discovered",
                        &remote.remote_id,
                        &format!(
                            "{} ({}): {}",
                            remote.display_name,
                            remote.name,
                            policy.as_str()
                        ),
                    )
                    .await?;
                ctx.store
                    .set_policy(&remote.remote_id, policy, team, BOT_ACTOR)
                    .await?
            }
        };
        let links = ctx
            .client
            .shared_channel_remotes(
                &remote.remote_id,
                &SharedChannelRemoteFilter {
                    exclude_home: true,
                    ..SharedChannelRemoteFilter::default()
                },
            )
            .await?;
        for link in links.iter().filter(|l| l.delete_at == 0) {
            live_links.insert((remote.remote_id.clone(), link.channel_id.clone()));
            let known = ctx.store.requests_for_channel(&link.channel_id).await?;
            if known.iter().any(|r| r.state != RequestState::Withdrawn) {
                continue;
            }
            let channel = match ctx.client.get_channel(&link.channel_id).await {
                Ok(c) if !c.is_archived() => c,
                Ok(_) => continue,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    // One unreadable channel does not hold the others back; the next pass
                    // tries it again.
                    tracing::warn!(channel_id = %link.channel_id, "cannot read an arrived channel: {}", e.user_message());
                    continue;
                }
            };
            if channel.is_shared() {
                read_now.insert(channel.id.clone());
            }
            self.take_in(remote, policy.policy, &channel, teams).await?;
        }
        Ok(())
    }

    /// Records a received channel by its connection's policy: a request for review when it
    /// landed in the inbox team, an auto-accepted one (with its notice in the admin channel),
    /// nothing when it was placed elsewhere. Returns the request waiting for review, if any.
    pub(super) async fn take_in(
        &self,
        remote: &RemoteCluster,
        policy: Policy,
        channel: &Channel,
        teams: &[Team],
    ) -> Result<Option<ReviewRequest>, ReviewError> {
        let ctx = &*self.ctx;
        let new = self.new_request(remote, channel).await?;
        match policy {
            Policy::Review if channel.team_id == ctx.places.inbox_team.id => {
                let (request, created) = ctx.store.open_request(&new).await?;
                if created {
                    ctx.store
                        .audit(
                            BOT_ACTOR,
                            "request.opened",
                            &request.id,
                            &format!(
                                "channel {} from {}",
                                request.channel_display_name, request.org_name
                            ),
                        )
                        .await?;
                    tracing::info!(channel = %request.channel_display_name, org = %request.org_name, "shared channel waiting for review");
                }
                Ok(
                    (request.state == RequestState::Pending && request.deciding.is_none())
                        .then_some(request),
                )
            }
            Policy::Review => {
                tracing::debug!(channel = %channel.name, "received channel outside the inbox team: already placed");
                Ok(None)
            }
            Policy::AutoAccept => {
                let (request, created) = ctx
                    .store
                    .record_auto_accepted(&new, &channel.team_id)
                    .await?;
                if !created {
                    // Found at once by the arrival path and a reconcile pass (or reviewed
                    // before): the one who recorded it posts the notice.
                    tracing::debug!(channel = %channel.name, state = request.state.as_str(), "channel recorded already");
                    return Ok(None);
                }
                ctx.metrics
                    .decision(Verdict::Accept, How::Rule, Duration::ZERO);
                ctx.store
                    .audit(
                        BOT_ACTOR,
                        Verdict::Accept.audit_action(How::Rule),
                        &request.id,
                        &format!(
                            "channel {} from {} into team {}",
                            request.channel_display_name, request.org_name, channel.team_id
                        ),
                    )
                    .await?;
                let post = ctx
                    .request_post(&request, &ctx.places.admin_channel.id, None, teams)
                    .await?;
                ctx.poster
                    .send_once(
                        &request.id,
                        Target::Channel {
                            channel_id: &ctx.places.admin_channel.id,
                        },
                        post,
                        &request.shown_key(),
                    )
                    .await?;
                Ok(None)
            }
        }
    }

    async fn new_request(
        &self,
        remote: &RemoteCluster,
        channel: &Channel,
    ) -> Result<NewRequest, ReviewError> {
        let ctx = &*self.ctx;
        // Suggest the team the last channel from this organization went to, else none.
        let suggested = ctx
            .store
            .accepted_requests()
            .await?
            .into_iter()
            .filter(|r| r.remote_id == remote.remote_id)
            .max_by_key(|r| r.decided_at.unwrap_or_default())
            .and_then(|r| r.team_id);
        Ok(NewRequest {
            remote_id: remote.remote_id.clone(),
            channel_id: channel.id.clone(),
            channel_name: channel.name.clone(),
            channel_display_name: if channel.display_name.is_empty() {
                channel.name.clone()
            } else {
                channel.display_name.clone()
            },
            channel_type: channel.channel_type.clone(),
            channel_purpose: channel.purpose.clone(),
            channel_header: channel.header.clone(),
            org_name: if remote.display_name.is_empty() {
                remote.name.clone()
            } else {
                remote.display_name.clone()
            },
            suggested_team_id: suggested,
        })
    }

    /// Sends the review DM to every admin who has none yet (concurrently; each at most once).
    pub(super) async fn notify_admins(
        &self,
        request: &ReviewRequest,
        admins: &[User],
        teams: &[Team],
    ) {
        let ctx = &*self.ctx;
        // Admins whose DM is recorded as sent need nothing; a claim without a post (a restart
        // mid-send) goes through `send_once` again, which finds or re-sends it.
        let sent: HashSet<String> = match ctx.store.notifications(&request.id).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|n| n.post_id.is_some())
                .map(|n| n.admin_user_id)
                .collect(),
            Err(err) => {
                tracing::warn!(request = %request.id, "cannot read the sent DMs (retried at the next reconcile): {err}");
                return;
            }
        };
        // The admins of the team the request is for are asked too (`review.team_admins`).
        let mut everyone: Vec<User> = admins.to_vec();
        if let Some(team) = ctx.team_of_request(request.suggested_team_id.as_deref(), teams) {
            match ctx.team_admins_of(&team.id).await {
                Ok(team_admins) => {
                    for user in team_admins {
                        if !everyone.iter().any(|a| a.id == user.id) {
                            everyone.push(user);
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(request = %request.id, team = %team.name, "cannot read the team's admins (asked at the next reconcile): {err}")
                }
            }
        }
        let missing: Vec<&User> = everyone.iter().filter(|a| !sent.contains(&a.id)).collect();
        if missing.is_empty() {
            return;
        }
        let pending = ctx.store.pending_count().await.ok();
        let mut posts = Vec::with_capacity(missing.len());
        for admin in &missing {
            match ctx
                .request_post_counted(request, &admin.id, None, teams, pending)
                .await
            {
                Ok(post) => posts.push((
                    Target::Dm {
                        admin_id: &admin.id,
                    },
                    post,
                )),
                Err(err) => {
                    tracing::warn!(request = %request.id, "cannot render the review DM (retried at the next reconcile): {err}");
                    return;
                }
            }
        }
        let sent = match ctx
            .poster
            .send_many(&request.id, posts, &request.shown_key())
            .await
        {
            Ok(sent) => sent,
            Err(err) => {
                tracing::warn!(request = %request.id, "cannot record the review DMs (retried at the next reconcile): {err}");
                return;
            }
        };
        let mut all_sent = true;
        for (admin, result) in missing.iter().zip(sent) {
            if let Err(err) = result {
                all_sent = false;
                tracing::warn!(admin = %admin.username, request = %request.id, "cannot send the review DM (retried at the next reconcile): {err}");
            }
        }
        if all_sent {
            ctx.metrics.dm_fanout(Metrics::since(request.created_at));
        }
    }

    /// Edits every sent post that shows an older state than its request's.
    pub(super) async fn bring_posts_up_to_date(&self, teams: &[Team]) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        let mut done = HashSet::new();
        for n in ctx.store.stale_notifications().await? {
            if self.is_applying(&n.request_id) || !done.insert(n.request_id.clone()) {
                continue;
            }
            if let Some(request) = ctx.store.request(&n.request_id).await? {
                apply::refresh_posts(ctx, &request, teams).await;
            }
        }
        Ok(())
    }

    /// Reminders in each admin's DM thread, and expiry.
    async fn remind_and_expire(&self) -> Result<(), ReviewError> {
        let ctx = &*self.ctx;
        let now = crate::ids::now_ms();
        let remind_after = ctx.config.reminder_after.as_millis() as i64;
        let mut pages = ctx.store.pending_pages(PAGE);
        while let Some(page) = pages.next().await? {
            for request in page {
                if request.deciding.is_some() {
                    continue;
                }
                if let Some(expire) = ctx.config.expire_after {
                    if now - request.created_at >= expire.as_millis() as i64 {
                        let note = format!("expired after {}", humantime::format_duration(expire));
                        let claim = Claim {
                            verdict: Verdict::Reject,
                            how: How::Expiry,
                            by: Decider::Sharebot,
                            team_id: None,
                            note: Some(&note),
                        };
                        if let crate::store::Decision::Made(_) =
                            ctx.store.begin_decision(&request.id, &claim).await?
                        {
                            tracing::info!(channel = %request.channel_display_name, "request expired: declining");
                            let waited = Metrics::since(request.created_at);
                            ctx.metrics.decision(claim.verdict, claim.how, waited);
                            self.spawn_apply(request.id.clone());
                        }
                        continue;
                    }
                }
                let last = request.reminded_at.unwrap_or(request.created_at);
                if now - last < remind_after {
                    continue;
                }
                if !ctx.store.mark_reminded(&request.id).await? {
                    continue;
                }
                let text = render(ctx, "reminder.md.j2", &request, json!({}))?;
                for n in ctx.store.notifications(&request.id).await? {
                    if n.kind != "dm" {
                        continue;
                    }
                    if let Err(err) = ctx.poster.reply(&n, text.clone()).await {
                        tracing::warn!(request = %request.id, "cannot send a reminder: {err}");
                    }
                }
            }
        }
        Ok(())
    }
}
