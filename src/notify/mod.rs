//! What sharebot says: message templates rendered into posts, and the record of every post
//! sent about a request, so none is sent twice and every copy can be updated.

mod posts;
mod templates;

pub use posts::{pending_post_id, Poster, Target, REQUEST_MARKER};
pub use templates::{command_reply_defaults, TemplateError, Templates, COMMAND_REPLIES};

use crate::mattermost;
use crate::store::StoreError;

/// Why a post could not be rendered, sent or recorded.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Mattermost(#[from] mattermost::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Template(#[from] TemplateError),
}
