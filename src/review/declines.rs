//! The sending side of a reject: a channel we shared that the other organization stopped
//! receiving is told once in the admin channel and recorded for `shared`.
//!
//! The server learns it on its own: the next sync into a channel the other side uninvited is
//! answered "channel is no longer shared", and the server then posts "This channel is no longer
//! shared." in the channel as the link's creator and removes the link
//! (`sync_send_remote.go`, `handleChannelNotSharedError`). A link removed here by an admin
//! (`unshare`, the System Console) leaves no such post, so only the other side's doing is told.

use serde_json::json;

use crate::mattermost::models::{
    Post, RemoteCluster, SharedChannelRemote, SharedChannelRemoteFilter,
};
use crate::mattermost::ChannelPostsQuery;

use super::context::Context;
use super::{Review, ReviewError, BOT_ACTOR};

/// The audit action recording that the other side stopped receiving one of our channels.
pub const DECLINED: &str = "share.declined";
/// The audit action recording a link removed on our side (looked at once, nothing to tell).
const ENDED_HERE: &str = "share.ended";
/// `sharedchannel.UnshareMessage`, the server's post when it unshares on the other side's word.
const UNSHARE_MESSAGE: &str = "This channel is no longer shared.";
/// The prop naming the link on the bot's post about it.
const TOLD_PROP: &str = "sharebot_share_declined";
/// How long before the link's removal the server's post may be (it is posted just before).
const POST_WINDOW_MS: i64 = 60_000;

/// The audit subject of a link: the connection, then the channel.
pub fn subject(remote_id: &str, channel_id: &str) -> String {
    format!("{remote_id}/{channel_id}")
}

impl Review {
    /// Looks at every removed link of a channel we shared, once each.
    pub(super) async fn learn_declines(&self, remotes: &[RemoteCluster]) {
        for remote in remotes.iter().filter(|r| r.delete_at == 0) {
            if let Err(err) = declines_of(&self.ctx, remote).await {
                tracing::warn!(remote = %remote.name, "cannot read the channels we share: {err}");
            }
        }
    }
}

async fn declines_of(ctx: &Context, remote: &RemoteCluster) -> Result<(), ReviewError> {
    let links = ctx
        .client
        .shared_channel_remotes(
            &remote.remote_id,
            &SharedChannelRemoteFilter {
                exclude_remote: true,
                include_deleted: true,
                ..SharedChannelRemoteFilter::default()
            },
        )
        .await?;
    for link in links.iter().filter(|l| l.delete_at != 0) {
        if let Err(err) = tell_once(ctx, remote, link).await {
            tracing::warn!(remote = %remote.name, channel_id = %link.channel_id, "cannot look at a channel no longer shared (tried again at the next pass): {err}");
        }
    }
    Ok(())
}

/// Tells of one removed link, unless it was looked at already.
async fn tell_once(
    ctx: &Context,
    remote: &RemoteCluster,
    link: &SharedChannelRemote,
) -> Result<(), ReviewError> {
    let subject = subject(&remote.remote_id, &link.channel_id);
    if !ctx.store.audit_for(&subject).await?.is_empty() {
        return Ok(());
    }
    if !ended_by_them(ctx, link).await? {
        ctx.store.audit(BOT_ACTOR, ENDED_HERE, &subject, "").await?;
        return Ok(());
    }
    let channel = ctx.client.get_channel(&link.channel_id).await?;
    // A crash between the post and its record must not say it twice: the post names the link.
    if !already_told(ctx, &subject).await? {
        let text = ctx.templates.render(
            "share_declined.md.j2",
            &json!({"org": remote.display_name, "channel": channel.name}),
        )?;
        let mut post = Post {
            channel_id: ctx.places.admin_channel.id.clone(),
            message: text,
            ..Post::default()
        };
        post.props.other.insert(TOLD_PROP.into(), json!(subject));
        ctx.client.create_post(&post).await?;
    }
    let detail = json!({"channel": channel.name, "org": remote.display_name});
    ctx.store
        .audit(BOT_ACTOR, DECLINED, &subject, &detail.to_string())
        .await?;
    tracing::info!(channel = %channel.name, org = %remote.display_name, "the other organization no longer receives a channel we shared");
    Ok(())
}

/// Whether the admin channel's newest posts hold the bot's post about `subject`.
async fn already_told(ctx: &Context, subject: &str) -> Result<bool, ReviewError> {
    let list = ctx
        .client
        .channel_posts(
            &ctx.places.admin_channel.id,
            &ChannelPostsQuery {
                per_page: Some(200),
                ..ChannelPostsQuery::default()
            },
        )
        .await?;
    Ok(list.posts.values().any(|p| {
        p.user_id == ctx.places.bot.id
            && p.props.other.get(TOLD_PROP).and_then(|v| v.as_str()) == Some(subject)
    }))
}

/// Whether the server removed the link on the other side's word: its "no longer shared" post,
/// by the link's creator, just before the link went.
async fn ended_by_them(ctx: &Context, link: &SharedChannelRemote) -> Result<bool, ReviewError> {
    let list = ctx
        .client
        .channel_posts(
            &link.channel_id,
            &ChannelPostsQuery {
                since: Some(link.delete_at - POST_WINDOW_MS),
                ..ChannelPostsQuery::default()
            },
        )
        .await?;
    Ok(list.posts.values().any(|p| {
        p.post_type == "system_generic"
            && p.message == UNSHARE_MESSAGE
            && p.user_id == link.creator_id
            && p.create_at <= link.delete_at
            && p.create_at >= link.delete_at - POST_WINDOW_MS
    }))
}
