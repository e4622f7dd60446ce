//! Sending a post about a request exactly once, and editing every copy later. A post is
//! claimed in the store before it is sent and recorded after; a claim left without a post (a
//! restart in between) is resolved by looking for the post in its channel: an existing post
//! is reused, a missing one is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::NotifyError;
use crate::mattermost::models::{Post, PostPatch};
use crate::mattermost::{ChannelPostsQuery, Client};
use crate::store::{NotificationPost, Store};

/// The prop that marks a post as sharebot's post about a request (its value is the request id).
pub const REQUEST_MARKER: &str = "sharebot_request";

/// The server's answers to an edit that no later attempt can change (`api4/post.go`,
/// `app/post.go`): the edit time limit (only for an edit carrying `message`, which sharebot no
/// longer sends), a post in an archived channel (two ids: `PatchPost`'s and `UpdatePost`'s),
/// a system post, a deleted post.
const EDIT_REFUSED_FOR_GOOD: [&str; 5] = [
    "api.post.update_post.permissions_time_limit.app_error",
    "api.post.patch_post.can_not_update_post_in_deleted.error",
    "api.post.update_post.can_not_update_post_in_deleted.error",
    "api.post.update_post.system_message.app_error",
    "api.post.update_post.permissions_details.app_error",
];

/// Why the server will never accept this edit (its error id, or `not_found` when the server
/// itself says the post is gone), or `None` when a later attempt may pass (a 5xx, a 429, a
/// proxy's page, a permission that an admin can give back).
fn refused_for_good(err: &crate::mattermost::Error) -> Option<&'static str> {
    let id = err.app_error_id()?;
    if let Some(known) = EDIT_REFUSED_FOR_GOOD.iter().find(|k| **k == id) {
        return Some(known);
    }
    err.is_not_found().then_some("not_found")
}

/// The `pending_post_id` of the post about `request_id` to `recipient` (see
/// [`Target::recipient`]): Mattermost answers a create carrying one it saw within 30 s with
/// the post it made then (`deduplicateCreatePost` in `server/channels/app/post.go`).
pub fn pending_post_id(request_id: &str, recipient: &str) -> String {
    format!("sharebot-{request_id}-{recipient}")
}

/// Where a post about a request goes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The DM between the bot and this admin.
    Dm { admin_id: &'a str },
    /// A channel (the admin channel).
    Channel { channel_id: &'a str },
    /// A reply in a thread (the `pending` command's answer); any admin may click it.
    Thread {
        channel_id: &'a str,
        root_id: &'a str,
    },
}

impl Target<'_> {
    /// Who the post is for, as recorded and signed: an admin, a channel, or `thread:<root>`.
    pub fn recipient(&self) -> String {
        match self {
            Target::Dm { admin_id } => admin_id.to_string(),
            Target::Channel { channel_id } => channel_id.to_string(),
            Target::Thread { root_id, .. } => format!("thread:{root_id}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Target::Dm { .. } => "dm",
            Target::Channel { .. } => "channel",
            Target::Thread { .. } => "thread",
        }
    }

    fn root_id(&self) -> &str {
        match self {
            Target::Thread { root_id, .. } => root_id,
            _ => "",
        }
    }
}

/// Sends and edits the posts about requests; one per process.
#[derive(Clone)]
pub struct Poster {
    client: Client,
    store: Store,
    bot_id: String,
    /// The id of the key that signs the buttons of the posts sent now, recorded with each.
    key_id: String,
    /// One lock per (request, recipient): a send and a recovery of the same post never overlap.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// admin id → the DM channel with the bot (a DM channel never changes), so a DM costs
    /// one round trip once the channel is known.
    dms: Arc<Mutex<HashMap<String, String>>>,
}

impl Poster {
    pub fn new(client: Client, store: Store, bot_id: String, key_id: String) -> Poster {
        Poster {
            client,
            store,
            bot_id,
            key_id,
            locks: Arc::default(),
            dms: Arc::default(),
        }
    }

    /// The same poster writing through `store`, sharing the post locks and known DM channels.
    pub fn with_store(&self, store: Store) -> Poster {
        Poster {
            store,
            ..self.clone()
        }
    }

    /// Opens the DM channels of `users` not opened yet (the client bounds how many calls are
    /// in flight); a failure is left for the send to retry.
    pub async fn open_dms<'a>(&self, users: impl Iterator<Item = &'a str>) {
        let missing: Vec<&str> = {
            let known = self.dms.lock().unwrap_or_else(|p| p.into_inner());
            users.filter(|u| !known.contains_key(*u)).collect()
        };
        let opens = missing.into_iter().map(|u| self.dm_channel(u));
        for opened in futures_util::future::join_all(opens).await {
            if let Err(err) = opened {
                tracing::debug!("cannot open a DM channel ahead of need: {err}");
            }
        }
    }

    /// The DM channel between the bot and `user_id` (opened once, then remembered).
    async fn dm_channel(&self, user_id: &str) -> Result<String, NotifyError> {
        let known = self
            .dms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user_id)
            .cloned();
        if let Some(id) = known {
            return Ok(id);
        }
        let id = self
            .client
            .create_direct_channel(&self.bot_id, user_id)
            .await?
            .id;
        self.dms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user_id.to_string(), id.clone());
        Ok(id)
    }

    fn lock_for(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key).or_default().clone()
    }

    /// Sends `post` about `request_id` to `target` unless it was sent before; records it as
    /// showing `shown`. Returns the post id (the existing one when it was sent before).
    pub async fn send_once(
        &self,
        request_id: &str,
        target: Target<'_>,
        post: Post,
        shown: &str,
    ) -> Result<String, NotifyError> {
        let recipient = target.recipient();
        let recipient = recipient.as_str();
        let lock = self.lock_for(format!("{request_id}/{recipient}"));
        let _held = lock.lock().await;
        // The channel is known before the claim (a DM channel is remembered once opened), so
        // the claim records it: a restart can then look there for a post sent but not recorded.
        let target_channel = self.channel_of(target).await?;
        let fresh = self
            .store
            .claim_post(request_id, recipient, target.kind(), Some(&target_channel))
            .await?;
        let mut channel_id = target_channel;
        if !fresh {
            let row = self
                .store
                .notifications(request_id)
                .await?
                .into_iter()
                .find(|n| n.admin_user_id == recipient);
            if let Some(post_id) = row.as_ref().and_then(|n| n.post_id.clone()) {
                return Ok(post_id);
            }
            match row.and_then(|n| n.channel_id) {
                Some(recorded) => channel_id = recorded,
                None => {
                    self.store
                        .set_notification_channel(request_id, recipient, &channel_id)
                        .await?
                }
            }
            // A claim from before a restart: the post may have been sent and not recorded.
            if let Some(existing) = self
                .find_sent(&channel_id, request_id, target.root_id())
                .await?
            {
                self.store
                    .complete_notification(
                        request_id,
                        recipient,
                        &channel_id,
                        &existing.id,
                        None,
                        None,
                    )
                    .await?;
                return Ok(existing.id);
            }
        }
        self.post_claimed(request_id, target, post, &channel_id, shown)
            .await
    }

    /// The channel a post to `target` goes to (a DM channel is opened once, then remembered).
    async fn channel_of(&self, target: Target<'_>) -> Result<String, NotifyError> {
        match target {
            Target::Dm { admin_id } => self.dm_channel(admin_id).await,
            Target::Channel { channel_id } | Target::Thread { channel_id, .. } => {
                Ok(channel_id.to_string())
            }
        }
    }

    /// Sends a post whose claim is held to `channel_id` (in `target`'s thread, marked with
    /// its request) and records it as sent, showing `shown`.
    async fn post_claimed(
        &self,
        request_id: &str,
        target: Target<'_>,
        mut post: Post,
        channel_id: &str,
        shown: &str,
    ) -> Result<String, NotifyError> {
        post.channel_id = channel_id.to_string();
        post.root_id = target.root_id().to_string();
        post.props
            .other
            .insert(REQUEST_MARKER.into(), json!(request_id));
        // The same on every replica: a second create of this post within the server's 30 s
        // (a leader paused between its epoch check and its send, waking after the next leader
        // sent it) gets the first post back rather than making a copy.
        post.pending_post_id = pending_post_id(request_id, &target.recipient());
        // A leader paused since its claim must not send what the next leader has sent.
        self.store.check_fence().await?;
        let sent = self.client.create_post(&post).await?;
        self.store
            .complete_notification(
                request_id,
                &target.recipient(),
                channel_id,
                &sent.id,
                Some(shown),
                Some(&self.key_id),
            )
            .await?;
        Ok(sent.id)
    }

    /// Sends each post about `request_id` to its target unless it was sent before, as
    /// [`Poster::send_once`] does for one, but claims them all in one write: a fan-out to
    /// every admin costs one database write before the posts go out together. A target
    /// claimed before (sent, or cut short by a restart) goes through `send_once`. Fails as a
    /// whole only when the claim cannot be written; else one result per post, in order.
    pub async fn send_many(
        &self,
        request_id: &str,
        posts: Vec<(Target<'_>, Post)>,
        shown: &str,
    ) -> Result<Vec<Result<String, NotifyError>>, NotifyError> {
        let channels = futures_util::future::join_all(
            posts.iter().map(|(target, _)| self.channel_of(*target)),
        )
        .await;
        let claims: Vec<(String, &str, String)> = posts
            .iter()
            .zip(&channels)
            .filter_map(|((target, _), channel)| {
                let channel = channel.as_ref().ok()?;
                Some((target.recipient(), target.kind(), channel.clone()))
            })
            .collect();
        let fresh = self.store.claim_posts(request_id, &claims).await?;
        let sends = posts
            .into_iter()
            .zip(channels)
            .map(|((target, post), channel)| {
                let fresh = fresh.contains(&target.recipient());
                async move {
                    let channel_id = channel?;
                    if !fresh {
                        return self.send_once(request_id, target, post, shown).await;
                    }
                    let lock = self.lock_for(format!("{request_id}/{}", target.recipient()));
                    let _held = lock.lock().await;
                    self.post_claimed(request_id, target, post, &channel_id, shown)
                        .await
                }
            });
        Ok(futures_util::future::join_all(sends).await)
    }

    /// The bot's post about `request_id` among the channel's latest posts (a root post, or a
    /// reply in thread `root_id`).
    async fn find_sent(
        &self,
        channel_id: &str,
        request_id: &str,
        root_id: &str,
    ) -> Result<Option<Post>, NotifyError> {
        let list = self
            .client
            .channel_posts(
                channel_id,
                &ChannelPostsQuery {
                    page: Some(0),
                    per_page: Some(200),
                    ..ChannelPostsQuery::default()
                },
            )
            .await?;
        Ok(list
            .ordered()
            .into_iter()
            .find(|p| {
                p.user_id == self.bot_id
                    && p.root_id == root_id
                    && p.delete_at == 0
                    && p.props.other.get(REQUEST_MARKER) == Some(&json!(request_id))
            })
            .cloned())
    }

    /// Replaces a sent post's props (the whole props: pass every attachment with its
    /// integrations) and records that it shows `shown`. The message is never sent: a server
    /// with `ServiceSettings.PostEditTimeLimit` refuses every patch that carries `message` once
    /// the post is older than the limit, for bots and admins too (`api4/post.go`), so the posts
    /// about requests keep an empty message and show everything in their attachment.
    ///
    /// When the server refuses the edit for good (the post is in an archived channel, was
    /// deleted, …) the post is recorded as refused, said once in the log, and never tried again;
    /// any other failure is returned and the next reconcile tries again.
    pub async fn edit(
        &self,
        notification: &NotificationPost,
        mut post: Post,
        shown: &str,
    ) -> Result<(), NotifyError> {
        let Some(post_id) = notification.post_id.as_deref() else {
            return Ok(());
        };
        if notification.refused_edit.is_some() {
            return Ok(());
        }
        post.props.other.insert(
            REQUEST_MARKER.into(),
            json!(notification.request_id.as_str()),
        );
        let patched = self
            .client
            .patch_post(
                post_id,
                &PostPatch {
                    message: None,
                    props: Some(post.props),
                },
            )
            .await;
        match patched {
            Ok(_) => {}
            Err(err) => match refused_for_good(&err) {
                Some(reason) => {
                    self.store
                        .refuse_edit(
                            &notification.request_id,
                            &notification.admin_user_id,
                            reason,
                        )
                        .await?;
                    tracing::warn!(
                        request = %notification.request_id,
                        post_id,
                        reason,
                        "the server will not let this post be edited; it is left as it is: {}",
                        err.user_message()
                    );
                    return Ok(());
                }
                None => return Err(err.into()),
            },
        }
        self.store
            .mark_shown_signed(
                &notification.request_id,
                &notification.admin_user_id,
                shown,
                &self.key_id,
            )
            .await?;
        Ok(())
    }

    /// Replies in the thread of a sent post (a reminder).
    pub async fn reply(
        &self,
        notification: &NotificationPost,
        message: String,
    ) -> Result<(), NotifyError> {
        let (Some(post_id), Some(channel_id)) = (
            notification.post_id.as_deref(),
            notification.channel_id.as_deref(),
        ) else {
            return Ok(());
        };
        self.client
            .create_post(&Post {
                channel_id: channel_id.to_string(),
                root_id: post_id.to_string(),
                message,
                ..Post::default()
            })
            .await?;
        Ok(())
    }

    /// A plain DM from the bot to a user (a failure report).
    pub async fn direct_message(&self, user_id: &str, message: String) -> Result<(), NotifyError> {
        let channel_id = self.dm_channel(user_id).await?;
        self.client
            .create_post(&Post {
                channel_id,
                message,
                ..Post::default()
            })
            .await?;
        Ok(())
    }

    /// A message from the bot that only `user_id` sees, in their DM with the bot
    /// (`POST /posts/ephemeral`): Mattermost neither stores it nor sends a notification for
    /// it; only the user's clients connected now receive it (`ephemeral_message`).
    pub async fn ephemeral_direct_message(
        &self,
        user_id: &str,
        message: String,
    ) -> Result<(), NotifyError> {
        let channel_id = self.dm_channel(user_id).await?;
        self.client
            .create_ephemeral_post(
                user_id,
                &Post {
                    channel_id,
                    message,
                    ..Post::default()
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mattermost::Error;

    fn api(status: u16, id: &str) -> Error {
        Error::Api {
            status,
            route: "patch_post",
            id: id.into(),
            message: String::new(),
            detailed_error: String::new(),
            request_id: String::new(),
        }
    }

    #[test]
    fn only_the_servers_final_refusals_stop_the_edits_of_a_post() {
        let archived = "api.post.patch_post.can_not_update_post_in_deleted.error";
        assert_eq!(refused_for_good(&api(400, archived)), Some(archived));
        assert_eq!(
            refused_for_good(&api(404, "app.post.get.app_error")),
            Some("not_found")
        );
        assert_eq!(
            refused_for_good(&api(500, "app.post.update.app_error")),
            None
        );
        assert_eq!(
            refused_for_good(&api(403, "api.context.permissions.app_error")),
            None
        );
        let proxy = Error::Status {
            status: 404,
            route: "patch_post",
            body: String::new(),
        };
        assert_eq!(
            refused_for_good(&proxy),
            None,
            "a proxy's 404 is not the server's"
        );
    }
}
