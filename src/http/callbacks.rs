//! The door for Mattermost's interactive callbacks: button and menu clicks
//! (`POST /mattermost/actions`) and dialog submissions (`POST /mattermost/dialogs`), handed
//! to the domain. A missing or bad signature is a 4xx; every other refusal is an answer the
//! clicking user sees.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppState;
use crate::mattermost::models::{
    PostActionIntegrationRequest, PostActionIntegrationResponse, SubmitDialogRequest,
    SubmitDialogResponse,
};

/// A non-empty text field of a callback's context or a dialog's state.
pub fn field<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a str> {
    map.get(key)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An answer that shows `text` to the clicking user alone and changes nothing else.
pub fn ephemeral(text: String) -> PostActionIntegrationResponse {
    PostActionIntegrationResponse {
        ephemeral_text: text,
        ..Default::default()
    }
}

/// Why the domain refused a callback outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRefusal {
    /// No signature (or the fields it covers are missing): 400.
    Unsigned,
    /// A signature that does not verify: 403.
    Forged,
}

/// What the domain does with callbacks.
pub trait Callbacks: Send + Sync + 'static {
    fn action(
        &self,
        click: PostActionIntegrationRequest,
    ) -> impl Future<Output = Result<PostActionIntegrationResponse, CallbackRefusal>> + Send;
    fn dialog(
        &self,
        submit: SubmitDialogRequest,
    ) -> impl Future<Output = Result<SubmitDialogResponse, CallbackRefusal>> + Send;
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Callbacks`] behind a pointer (the router's state is not generic).
pub trait DynCallbacks: Send + Sync + 'static {
    fn action_boxed(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Boxed<'_, Result<PostActionIntegrationResponse, CallbackRefusal>>;
    fn dialog_boxed(
        &self,
        submit: SubmitDialogRequest,
    ) -> Boxed<'_, Result<SubmitDialogResponse, CallbackRefusal>>;
}

impl<T: Callbacks> DynCallbacks for T {
    fn action_boxed(
        &self,
        click: PostActionIntegrationRequest,
    ) -> Boxed<'_, Result<PostActionIntegrationResponse, CallbackRefusal>> {
        Box::pin(self.action(click))
    }
    fn dialog_boxed(
        &self,
        submit: SubmitDialogRequest,
    ) -> Boxed<'_, Result<SubmitDialogResponse, CallbackRefusal>> {
        Box::pin(self.dialog(submit))
    }
}

fn refused(refusal: CallbackRefusal) -> Response {
    let (status, text) = match refusal {
        CallbackRefusal::Unsigned => (
            StatusCode::BAD_REQUEST,
            "This request carries no sharebot signature. Nothing was changed.",
        ),
        CallbackRefusal::Forged => (
            StatusCode::FORBIDDEN,
            "This request's sharebot signature is not valid. Nothing was changed.",
        ),
    };
    (status, Json(json!({ "ephemeral_text": text }))).into_response()
}

fn malformed(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "ephemeral_text": format!("sharebot could not read this {what}. Nothing was changed.") })),
    )
        .into_response()
}

fn outcome_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "answered",
        400 => "unsigned",
        403 => "forged",
        404 => "not_served",
        _ => "error",
    }
}

/// `POST /mattermost/actions`.
pub async fn action(State(state): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    let response = match (
        &state.callbacks,
        serde_json::from_slice::<PostActionIntegrationRequest>(&body),
    ) {
        (None, _) => StatusCode::NOT_FOUND.into_response(),
        (Some(_), Err(_)) => malformed("click"),
        (Some(domain), Ok(click)) => match domain.action_boxed(click).await {
            Ok(answer) => Json(answer).into_response(),
            Err(refusal) => refused(refusal),
        },
    };
    state
        .metrics
        .callback("action", outcome_of(response.status()), started.elapsed());
    response
}

/// `POST /mattermost/dialogs`.
pub async fn dialog(State(state): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    let response = match (
        &state.callbacks,
        serde_json::from_slice::<SubmitDialogRequest>(&body),
    ) {
        (None, _) => StatusCode::NOT_FOUND.into_response(),
        (Some(_), Err(_)) => malformed("dialog submission"),
        (Some(domain), Ok(submit)) => match domain.dialog_boxed(submit).await {
            Ok(answer) => Json(answer).into_response(),
            Err(refusal) => refused(refusal),
        },
    };
    state
        .metrics
        .callback("dialog", outcome_of(response.status()), started.elapsed());
    response
}
