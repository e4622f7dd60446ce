//! After `server.secret` changed: every open review post (pending DMs and cards, accepted
//! channels' relocate menus) signed with another key is re-rendered with the current one.

use super::{apply, Review, ReviewError};

impl Review {
    /// Re-renders the posts of every request with a post signed with a key other than the
    /// current one (or before key ids were recorded); returns how many requests.
    pub async fn resign_open_posts(&self) -> Result<usize, ReviewError> {
        let ctx = &*self.ctx;
        let ids = ctx
            .store
            .requests_signed_otherwise(ctx.signer.key_id())
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let teams = ctx.refresh_teams().await?;
        for id in &ids {
            if self.is_applying(id) {
                continue;
            }
            if let Some(request) = ctx.store.request(id).await? {
                apply::refresh_posts(ctx, &request, &teams).await;
            }
        }
        tracing::info!(
            requests = ids.len(),
            "re-signed the open review posts signed with an older key"
        );
        Ok(ids.len())
    }
}
