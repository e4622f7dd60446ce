//! The Mattermost `AppError` answer: every failing API call returns one of these.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ids::new_id;

/// An API error shaped like the real server's `model.AppError` JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppError {
    pub id: String,
    pub message: String,
    pub detailed_error: String,
    pub request_id: String,
    pub status_code: u16,
    pub is_oauth: bool,
}

impl AppError {
    /// An error with its translation id, English message and HTTP status.
    pub fn new(status: u16, id: &str, message: impl Into<String>) -> AppError {
        AppError {
            id: id.to_string(),
            message: message.into(),
            detailed_error: String::new(),
            request_id: new_id(),
            status_code: status,
            is_oauth: false,
        }
    }

    /// Adds the `detailed_error` text (never secrets).
    pub fn detail(mut self, detail: impl Into<String>) -> AppError {
        self.detailed_error = detail.into();
        self
    }

    /// 401: no valid session (`api.context.session_expired.app_error`).
    pub fn session_expired() -> AppError {
        AppError::new(
            401,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        )
    }

    /// 403: the caller lacks `permission` (`api.context.permissions.app_error`).
    pub fn permission(user_id: &str, permission: &str) -> AppError {
        AppError::new(
            403,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        )
        .detail(format!("userId={user_id}, permission={permission}"))
    }

    /// 400: a missing or malformed URL parameter (`SetInvalidURLParam`).
    pub fn invalid_url_param(name: &str) -> AppError {
        AppError::new(
            400,
            "api.context.invalid_url_param.app_error",
            format!("Invalid or missing {name} parameter in request URL."),
        )
    }

    /// 400: a missing or malformed body field (`SetInvalidParam`, same id as a bad body).
    pub fn invalid_param(name: &str) -> AppError {
        AppError::invalid_body_param(name, "")
    }

    /// 400: a body that does not decode (`SetInvalidParamWithErr` on a JSON decode error).
    pub fn invalid_body_param(name: &str, detail: impl Into<String>) -> AppError {
        AppError::new(
            400,
            "api.context.invalid_body_param.app_error",
            format!("Invalid or missing {name} in request body."),
        )
        .detail(detail)
    }

    /// The remote id names no usable connection (`SetInvalidRemoteIdError`: 400; the
    /// shared-channel info route answers it with 404).
    pub fn remote_id_invalid(status: u16, remote_id: &str) -> AppError {
        AppError::new(
            status,
            "api.context.remote_id_invalid.app_error",
            format!("The remote id {remote_id} is invalid."),
        )
    }

    /// 404: no such channel (`app.channel.get.existing.app_error`).
    pub fn missing_channel() -> AppError {
        AppError::new(
            404,
            "app.channel.get.existing.app_error",
            "Unable to find the existing channel.",
        )
    }

    /// 404: no such post (`app.post.get.app_error`).
    pub fn missing_post() -> AppError {
        AppError::new(404, "app.post.get.app_error", "Unable to get the post.")
    }

    /// 500 `api.remote_cluster.accept_invitation_error`, saying why in the detail.
    pub fn accept_invitation(detail: impl Into<String>) -> AppError {
        AppError::new(
            500,
            "api.remote_cluster.accept_invitation_error",
            "Could not accept the invitation.",
        )
        .detail(detail)
    }

    /// 404 of the router: no such API route (`api.context.404.app_error`).
    pub fn not_found_route() -> AppError {
        AppError::new(
            404,
            "api.context.404.app_error",
            "Sorry, we could not find the page.",
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        if let Ok(value) = self.request_id.parse() {
            response.headers_mut().insert("X-Request-Id", value);
        }
        response
    }
}

/// Result of an API handler.
pub type ApiResult<T> = Result<T, AppError>;
