//! What the REST handlers read from a request: the caller, JSON bodies, path ids and names,
//! paging and boolean query flags, as the server's `web` package reads them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::super::auth::bearer_token;
use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::model::User;
use crate::ids::is_valid_id;

/// The authenticated caller (session or access token in `Authorization: Bearer`).
pub(crate) struct Caller {
    pub user: User,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Caller, AppError> {
        let token = bearer_token(&parts.headers).ok_or_else(AppError::session_expired)?;
        let user = state
            .db()
            .user_by_token(&token)
            .cloned()
            .ok_or_else(AppError::session_expired)?;
        Ok(Caller { user })
    }
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.is_system_admin()
    }

    /// 403 unless the caller is a system admin (`manage_system`).
    pub fn require_admin(&self, permission: &str) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::permission(&self.user.id, permission))
        }
    }

    pub fn denied(&self, permission: &str) -> AppError {
        AppError::permission(&self.user.id, permission)
    }
}

/// Decodes a JSON body; a decoding failure is the server's 400 for `name`.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8], name: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|err| AppError::invalid_body_param(name, err.to_string()))
}

/// A `*_id` path parameter: outside `[A-Za-z0-9]+` the router itself answers 404; otherwise it
/// must be a valid 26-character id (400 `invalid_url_param`).
pub(crate) fn path_id(name: &str, value: &str) -> ApiResult<()> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::not_found_route());
    }
    if !is_valid_id(value) {
        return Err(AppError::invalid_url_param(name));
    }
    Ok(())
}

/// A name path parameter (`username`, `team_name`, `channel_name`): outside the router's
/// pattern (`[A-Za-z0-9_-]+`, plus `.` for usernames) the router answers 404.
pub(crate) fn path_name(value: &str, allow_dot: bool) -> ApiResult<()> {
    let ok = !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (allow_dot && b == b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(AppError::not_found_route())
    }
}

/// `page` and `per_page` query parameters, as `model.Params` reads them (default 60, max 200).
#[derive(serde::Deserialize, Default)]
pub(crate) struct Paging {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
}

impl Paging {
    /// The `(offset, limit)` pair, or 400 for an unparsable value.
    pub fn window(&self) -> ApiResult<(usize, usize)> {
        let page: usize = match &self.page {
            None => 0,
            Some(p) => p.parse().map_err(|_| AppError::invalid_url_param("page"))?,
        };
        let per_page: usize = match &self.per_page {
            None => 60,
            Some(p) => p
                .parse()
                .map_err(|_| AppError::invalid_url_param("per_page"))?,
        };
        let per_page = per_page.min(200);
        Ok((page.saturating_mul(per_page), per_page))
    }

    /// Applies the window to a list.
    pub fn apply<T>(&self, items: Vec<T>) -> ApiResult<Vec<T>> {
        let (offset, limit) = self.window()?;
        Ok(items.into_iter().skip(offset).take(limit).collect())
    }
}

/// A boolean query flag as `web/params.go` reads it: Go's `strconv.ParseBool`, anything
/// else (or nothing) being false.
pub(crate) fn flag(value: &Option<String>) -> bool {
    matches!(
        value.as_deref(),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}
