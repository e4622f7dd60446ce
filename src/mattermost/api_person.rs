//! What a person's client does: log in, click a button or menu through the server, submit a
//! dialog. The demo acts as people through these, exactly as the web app would.

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, ClientOptions, Idempotency, Request};
use super::error::{Error, Result};
use super::models::{SubmitDialogRequest, SubmitDialogResponse, User};
use super::route::{validate_id, Route};

const LOGIN: &str = "/api/v4/users/login";

impl Client {
    /// `POST /users/login` as a person: a client on that person's session, and the person.
    pub async fn login(
        base_url: &str,
        login_id: &str,
        password: &str,
        options: ClientOptions,
    ) -> Result<(Client, User)> {
        let url = format!("{}{LOGIN}", base_url.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let answer = http
            .post(url)
            .json(&json!({"login_id": login_id, "password": password}))
            .send()
            .await
            .map_err(|e| Error::Transport {
                route: LOGIN,
                message: e.without_url().to_string(),
            })?;
        let status = answer.status().as_u16();
        let token = answer
            .headers()
            .get("Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = answer.bytes().await.map_err(|e| Error::Transport {
            route: LOGIN,
            message: e.without_url().to_string(),
        })?;
        let (200, Some(token)) = (status, token) else {
            return Err(Error::Status {
                status,
                route: LOGIN,
                body: String::new(),
            });
        };
        let user: User = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            route: LOGIN,
            message: e.to_string(),
        })?;
        Ok((Client::new(base_url, &token, options)?, user))
    }

    /// `POST /posts/{post_id}/actions/{action_id}`: clicks a button, or picks `selected` in a
    /// menu; the server calls the integration and applies its answer. Not retried.
    pub async fn click(
        &self,
        post_id: &str,
        action_id: &str,
        selected: Option<&str>,
    ) -> Result<Value> {
        validate_id("post_id", post_id)?;
        if action_id.is_empty() || !action_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::InvalidInput(format!("action id {action_id:?}")));
        }
        let request = Request::new(
            Method::POST,
            Route::new(
                "/api/v4/posts/{post_id}/actions/{action_id}",
                &[post_id, action_id],
            )?,
            Idempotency::NotIdempotent,
        )
        .json(&json!({"selected_option": selected.unwrap_or_default()}))?;
        self.json(request).await
    }

    /// `POST /actions/dialogs/submit`: submits a dialog the server opened for this person; the
    /// answer holds the integration's field errors, if any. Not retried.
    pub async fn submit_dialog(
        &self,
        submit: &SubmitDialogRequest,
    ) -> Result<SubmitDialogResponse> {
        let request = Request::new(
            Method::POST,
            Route::fixed("/api/v4/actions/dialogs/submit"),
            Idempotency::NotIdempotent,
        )
        .json(submit)?;
        let answer = self.send(request).await?;
        if answer.body.is_empty() {
            return Ok(SubmitDialogResponse::default());
        }
        serde_json::from_slice(&answer.body).map_err(|e| Error::Decode {
            route: "/api/v4/actions/dialogs/submit",
            message: e.to_string(),
        })
    }
}
