//! The posts about a share request, each sent once and kept up to date: every approver's DM
//! (Approve / Deny / Deny with reason…), the asker's confirmation where they asked (Withdraw)
//! and the asker's DM with the outcome. A post is claimed before it is sent and recorded
//! after; a claim left without its post (a restart in between) is resolved by looking for
//! the post in its channel.

use serde_json::{json, Map};

use crate::mattermost::models::{
    MessageAttachment, Post, PostAction, PostActionIntegration, PostPatch, PostProps,
};
use crate::mattermost::ChannelPostsQuery;
use crate::store::{SharePost, ShareRequest, ShareState};

use super::clicks::{APPROVE, DENY, DENY_WITH_REASON, SHARE_BUTTON, WITHDRAW};
use super::{Asked, CommandError, Commands, ASKER, OUTCOME};

/// The props that mark a post as one about a share request, and for whom.
const MARKER: &str = "sharebot_share_request";
const MARKED_FOR: &str = "sharebot_share_recipient";

/// What a post shows: the state, and for an approval how its share went.
fn shown(request: &ShareRequest) -> String {
    format!("{}:{}", request.state.as_str(), request.applied)
}

/// Marks `post` as the one about `request_id` for `recipient`, so it can be found again
/// after a restart.
fn mark(post: &mut Post, request_id: &str, recipient: &str) {
    post.props.other.insert(MARKER.into(), json!(request_id));
    post.props.other.insert(MARKED_FOR.into(), json!(recipient));
}

fn color(state: ShareState) -> &'static str {
    match state {
        ShareState::Pending => "#1c58d9",
        ShareState::Approved => "#3db887",
        ShareState::Denied => "#d24b4e",
        ShareState::Withdrawn => "#8a8a8a",
    }
}

impl Commands {
    /// A button of a share-request post for `recipient`, its context sealed now: a click
    /// counts only from the post recorded for this request and recipient.
    fn share_button(
        &self,
        request: &ShareRequest,
        recipient: &str,
        action: &str,
        name: &str,
        style: &str,
    ) -> PostAction {
        let mut fields = Map::new();
        fields.insert("kind".into(), json!(SHARE_BUTTON));
        fields.insert("request".into(), json!(request.id));
        fields.insert("action".into(), json!(action));
        fields.insert("recipient".into(), json!(recipient));
        PostAction {
            id: action.into(),
            action_type: "button".into(),
            name: name.into(),
            style: style.into(),
            integration: Some(PostActionIntegration {
                url: self.ctx.actions_url.clone(),
                context: self.ctx.signer.seal(fields),
            }),
            ..PostAction::default()
        }
    }

    /// The post `recipient` gets about `request` as it stands.
    async fn share_post(
        &self,
        request: &ShareRequest,
        recipient: &str,
        mention: &str,
    ) -> Result<Post, CommandError> {
        let mut facts = self.share_facts(request).await;
        facts["mention"] = json!(mention);
        let (part, actions) = match recipient {
            ASKER => {
                let actions = if request.state == ShareState::Pending {
                    vec![self.share_button(request, ASKER, WITHDRAW, "Withdraw", "default")]
                } else {
                    Vec::new()
                };
                ("confirmation", actions)
            }
            OUTCOME => ("outcome", Vec::new()),
            approver => {
                self.channel_facts(request, &mut facts).await;
                let actions = if request.state == ShareState::Pending {
                    vec![
                        self.share_button(request, approver, APPROVE, "Approve", "primary"),
                        self.share_button(request, approver, DENY, "Deny", "danger"),
                        self.share_button(
                            request,
                            approver,
                            DENY_WITH_REASON,
                            "Deny with reason…",
                            "default",
                        ),
                    ]
                } else {
                    Vec::new()
                };
                ("request", actions)
            }
        };
        facts["part"] = json!(part);
        let text = self.ctx.templates.render("share_request.md.j2", &facts)?;
        let mut props = PostProps::default();
        if part == "outcome" {
            return Ok(Post {
                message: text,
                ..Post::default()
            });
        }
        props.attachments = vec![MessageAttachment {
            fallback: format!(
                "Share request #{}: ~{} with {}",
                request.number, request.channel_name, request.org_name
            ),
            color: color(request.state).into(),
            text,
            actions,
            ..MessageAttachment::default()
        }];
        Ok(Post {
            props,
            ..Post::default()
        })
    }

    /// Sends the asker's confirmation in the thread where they asked, once.
    pub(super) async fn send_confirmation(
        &self,
        request: &ShareRequest,
        asked: &Asked,
    ) -> Result<(), CommandError> {
        let post = self
            .share_post(request, ASKER, &self.mention(asked))
            .await?;
        self.send_share_post(request, ASKER, &asked.channel_id, &asked.root_id, post)
            .await
            .map(|_| ())
    }

    /// Sends the request to every approver not sent it yet, then records the fan-out done.
    pub(super) async fn fan_out(&self, request: &ShareRequest) -> Result<(), CommandError> {
        let approvers = self.share_approvers().await?;
        let bot = self.ctx.places.bot.id.clone();
        let mut failed = None;
        for approver in approvers.iter().filter(|a| a.id != request.asked_by) {
            let sent = async {
                let dm = self
                    .ctx
                    .client
                    .create_direct_channel(&bot, &approver.id)
                    .await?;
                let post = self.share_post(request, &approver.id, "").await?;
                self.send_share_post(request, &approver.id, &dm.id, "", post)
                    .await
            };
            if let Err(err) = sent.await {
                tracing::warn!(request = %request.id, approver = %approver.id, "cannot send a share request: {err}");
                failed = Some(err);
            }
        }
        match failed {
            Some(err) => Err(err),
            None => Ok(self.ctx.store.share_request_fanned_out(&request.id).await?),
        }
    }

    /// Sends the asker the outcome by DM, once.
    pub(super) async fn send_outcome(&self, request: &ShareRequest) -> Result<(), CommandError> {
        let dm = self
            .ctx
            .client
            .create_direct_channel(&self.ctx.places.bot.id, &request.asked_by)
            .await?;
        let post = self.share_post(request, OUTCOME, "").await?;
        self.send_share_post(request, OUTCOME, &dm.id, "", post)
            .await
            .map(|_| ())
    }

    /// Sends `post` about `request` to `recipient` in `channel_id` (thread `root_id`) unless
    /// it was sent before; returns the post's id (empty while another process sends it).
    async fn send_share_post(
        &self,
        request: &ShareRequest,
        recipient: &str,
        channel_id: &str,
        root_id: &str,
        mut post: Post,
    ) -> Result<String, CommandError> {
        let store = &self.ctx.store;
        let fresh = store
            .claim_share_post(&request.id, recipient, channel_id, root_id)
            .await?;
        if !fresh {
            let row = store
                .share_posts(&request.id)
                .await?
                .into_iter()
                .find(|p| p.recipient == recipient);
            if let Some(row) = row {
                if let Some(post_id) = row.post_id {
                    return Ok(post_id);
                }
                // Claimed a moment ago, by another replica perhaps: it is being sent there.
                if crate::ids::now_ms() - row.created_at < self.in_flight_grace() {
                    return Ok(String::new());
                }
                // Claimed before a restart: the post may have been sent and not recorded.
                if let Some(found) = self.find_share_post(&row, &request.id).await? {
                    // Recorded as showing nothing, so the next update brings it up to date.
                    store
                        .share_post_sent(
                            &request.id,
                            recipient,
                            &found,
                            "",
                            self.ctx.signer.key_id(),
                        )
                        .await?;
                    return Ok(found);
                }
            }
        }
        post.channel_id = channel_id.to_string();
        post.root_id = root_id.to_string();
        mark(&mut post, &request.id, recipient);
        let sent = self.ctx.client.create_post(&post).await?;
        store
            .share_post_sent(
                &request.id,
                recipient,
                &sent.id,
                &shown(request),
                self.ctx.signer.key_id(),
            )
            .await?;
        Ok(sent.id)
    }

    /// `request`'s post for `recipient` rendered again and marked, as a patch that replaces
    /// the sent post's props.
    async fn share_patch(
        &self,
        request: &ShareRequest,
        recipient: &str,
    ) -> Result<PostPatch, CommandError> {
        let mut post = self.share_post(request, recipient, "").await?;
        mark(&mut post, &request.id, recipient);
        Ok(PostPatch {
            message: None,
            props: Some(post.props),
        })
    }

    /// The bot's post about `request_id` for the row's recipient among its channel's latest.
    async fn find_share_post(
        &self,
        row: &SharePost,
        request_id: &str,
    ) -> Result<Option<String>, CommandError> {
        let list = self
            .ctx
            .client
            .channel_posts(
                &row.channel_id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(200),
                    ..ChannelPostsQuery::default()
                },
            )
            .await?;
        let bot = &self.ctx.places.bot.id;
        Ok(list
            .ordered()
            .into_iter()
            .find(|p| {
                &p.user_id == bot
                    && p.delete_at == 0
                    && p.props.other.get(MARKER) == Some(&json!(request_id))
                    && p.props.other.get(MARKED_FOR) == Some(&json!(row.recipient))
            })
            .map(|p| p.id.clone()))
    }

    /// Brings every sent post about `request` (the approvers' DMs and the asker's
    /// confirmation) up to date with its state; the asker's outcome DM never changes.
    pub(super) async fn update_share_posts(
        &self,
        request: &ShareRequest,
    ) -> Result<(), CommandError> {
        let now = shown(request);
        for row in self.ctx.store.share_posts(&request.id).await? {
            if row.recipient == OUTCOME || row.shown == now {
                continue;
            }
            // A post sent but not recorded before a restart is found and updated; one never
            // sent stays unsent (the request is decided).
            let post_id = match row.post_id.clone() {
                Some(id) => id,
                None => match self.find_share_post(&row, &request.id).await? {
                    Some(found) => {
                        self.ctx
                            .store
                            .share_post_sent(
                                &request.id,
                                &row.recipient,
                                &found,
                                "",
                                self.ctx.signer.key_id(),
                            )
                            .await?;
                        found
                    }
                    None => continue,
                },
            };
            let post_id = post_id.as_str();
            let patch = self.share_patch(request, &row.recipient).await?;
            match self.ctx.client.patch_post(post_id, &patch).await {
                Ok(_) => {}
                // Deleted by its reader, or in a channel since archived: nothing to update.
                Err(e) if e.is_not_found() || e.status() == Some(400) => {
                    tracing::info!(request = %request.id, post_id, "a share request's post can no longer be edited: {}", e.user_message());
                }
                Err(e) => return Err(e.into()),
            }
            self.ctx
                .store
                .share_post_shown(&request.id, &row.recipient, &now)
                .await?;
        }
        Ok(())
    }

    /// Re-signs, with the current key, the buttons of every open share-request post signed
    /// with another one (after `server.secret` changed): the post is rendered again and its
    /// props replaced. A post that is gone is left alone.
    pub(in crate::commands) async fn resign_share_posts(&self) -> Result<usize, CommandError> {
        let key = self.ctx.signer.key_id().to_string();
        let mut done = 0;
        for row in self.ctx.store.share_posts_signed_otherwise(&key).await? {
            let (Some(post_id), Some(request)) = (
                row.post_id.as_deref(),
                self.ctx.store.share_request(&row.request_id).await?,
            ) else {
                continue;
            };
            let patch = self.share_patch(&request, &row.recipient).await?;
            match self.ctx.client.patch_post(post_id, &patch).await {
                Ok(_) => done += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            self.ctx
                .store
                .share_post_signed(&request.id, &row.recipient, &key)
                .await?;
        }
        Ok(done)
    }
}
