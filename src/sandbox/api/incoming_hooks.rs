//! Incoming webhooks: `POST`/`GET /api/v4/hooks/incoming` (create, list) and the
//! unauthenticated `POST /hooks/{hook_id}` that posts through one, as `api4/webhook.go`,
//! `web/webhook.go` and `app/webhook.go` do. A hook's posts are attributed to its owner and
//! marked `from_webhook`, which is all a reader can tell them apart by.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::core::events::{self, PostedEvent};
use super::super::core::shared::Shared;
use super::super::error::{ApiResult, AppError};
use super::super::model::webhook::{IncomingWebhook, IncomingWebhookRequest};
use super::super::model::{Channel, Post};
use super::super::state::{direct_channel_name, Db};
use super::posts::notify_if_shared;
use super::request::{parse_body, Caller, Paging};
use super::users::created;
use crate::ids::{new_id, now_ms};

/// `model.DefaultWebhookUsername`: the name shown when overrides are on and none is given.
const DEFAULT_WEBHOOK_USERNAME: &str = "webhook";

fn disabled_api() -> AppError {
    AppError::new(
        501,
        "api.incoming_webhook.disabled.app_error",
        "Incoming webhooks have been disabled by the system admin.",
    )
}

/// `POST /hooks/incoming`: 201 with the hook; the caller owns it (a system admin may name
/// another owner with `user_id`).
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let mut hook: IncomingWebhook = parse_body(&body, "incoming_webhook")?;
    let mut db = state.db();
    let channel = db
        .channels
        .get(&hook.channel_id)
        .cloned()
        .ok_or_else(AppError::missing_channel)?;
    // `manage_own_incoming_webhooks` on the channel's team: by default team and system admins;
    // the sandbox models system admins.
    if !caller.is_admin() {
        return Err(caller.denied("manage_own_incoming_webhooks"));
    }
    if !db.can_read_channel(&caller.user, &channel) {
        return Err(caller.denied("read_channel_content"));
    }
    let owner = if hook.user_id.is_empty() || hook.user_id == caller.user.id {
        caller.user.id.clone()
    } else {
        if db.user(&hook.user_id).is_none() {
            return Err(AppError::new(
                404,
                "app.user.missing_account.const",
                "Unable to find the user.",
            ));
        }
        hook.user_id.clone()
    };
    // System admins hold `bypass_incoming_webhook_channel_lock`, so their hooks stay as asked.
    let config = db.config.service_settings.clone();
    if !config.enable_incoming_webhooks {
        return Err(disabled_api());
    }
    if !config.enable_post_username_override {
        hook.username.clear();
    }
    if !config.enable_post_icon_override {
        hook.icon_url.clear();
    }
    let now = now_ms();
    hook.id = new_id();
    hook.user_id = owner;
    hook.team_id = channel.team_id.clone();
    hook.create_at = now;
    hook.update_at = now;
    hook.delete_at = 0;
    db.incoming_webhooks.insert(hook.id.clone(), hook.clone());
    Ok(created(hook))
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    paging: Paging,
    #[serde(default)]
    team_id: Option<String>,
}

/// `GET /hooks/incoming[?team_id=]`: a page of hooks (a system admin sees everyone's).
pub(crate) async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<IncomingWebhook>>> {
    caller.require_admin("manage_own_incoming_webhooks")?;
    let db = state.db();
    if !db.config.service_settings.enable_incoming_webhooks {
        return Err(disabled_api());
    }
    let team = query.team_id.unwrap_or_default();
    let mut hooks: Vec<IncomingWebhook> = db
        .incoming_webhooks
        .values()
        .filter(|h| h.delete_at == 0 && (team.is_empty() || h.team_id == team))
        .cloned()
        .collect();
    drop(db);
    hooks.sort_by(|a, b| a.create_at.cmp(&b.create_at).then(a.id.cmp(&b.id)));
    Ok(Json(query.paging.apply(hooks)?))
}

/// Errors of `POST /hooks/{id}`: `web/webhook.go` wraps every failure of the app layer in
/// `web.incoming_webhook.general.app_error`, keeping its status.
fn hook_error(status: u16, detail: &str) -> AppError {
    AppError::new(
        status,
        "web.incoming_webhook.general.app_error",
        "Unable to process the incoming webhook.",
    )
    .detail(detail.to_string())
}

/// `POST /hooks/{hook_id}` (no session): a JSON body, or a form with a `payload` field; answers
/// `ok` as text.
pub(crate) async fn post_through(
    State(state): State<Shared>,
    Path(hook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .unwrap_or_default();
    let decode_error = |detail: String| {
        AppError::new(
            400,
            "web.incoming_webhook.decode.app_error",
            "Unable to decode the incoming webhook payload.",
        )
        .detail(detail)
    };
    let raw: Vec<u8> = if media == "application/x-www-form-urlencoded" {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default()
    } else {
        body.to_vec()
    };
    let request: IncomingWebhookRequest =
        serde_json::from_slice(&raw).map_err(|e| decode_error(e.to_string()))?;
    let (post, event, new_direct) = {
        let mut db = state.db();
        let (post, new_direct) = through_hook(&mut db, &hook_id, request)?;
        let event = PostedEvent::gather(&db, &post);
        (post, event, new_direct)
    };
    if let Some((owner, other)) = new_direct {
        let members = if owner == other {
            vec![owner.clone()]
        } else {
            vec![owner.clone(), other.clone()]
        };
        events::direct_added(&state.hub, &members, &post.channel_id, &owner, &other);
    }
    if let Some(event) = event {
        event.publish(&state.hub);
    }
    notify_if_shared(&state, &post.channel_id);
    Ok(([(CONTENT_TYPE, "text/plain")], "ok").into_response())
}

/// A direct channel the post created: (the hook's owner, the other user).
type NewDirect = Option<(String, String)>;

/// `HandleIncomingWebhook` and `CreateWebhookPost`: finds the channel, checks the lock and the
/// owner's access, saves the post as the owner's.
fn through_hook(
    db: &mut Db,
    hook_id: &str,
    request: IncomingWebhookRequest,
) -> ApiResult<(Post, NewDirect)> {
    let config = db.config.service_settings.clone();
    if !config.enable_incoming_webhooks {
        return Err(hook_error(501, "incoming webhooks are disabled"));
    }
    if request.text.is_empty() && request.attachments.is_none() {
        return Err(hook_error(400, "no text specified"));
    }
    let hook = db
        .incoming_webhooks
        .get(hook_id)
        .filter(|h| h.delete_at == 0)
        .cloned()
        .ok_or_else(|| hook_error(400, "invalid webhook"))?;
    let owner = db
        .user(&hook.user_id)
        .cloned()
        .ok_or_else(|| hook_error(403, "the webhook's owner does not exist"))?;
    let name = request.channel_name.as_str();
    let mut new_direct = None;
    let channel: Channel = if let Some(username) = name.strip_prefix('@') {
        // The direct channel between the hook's owner and that user (`GetOrCreateDirectChannel`).
        let other = db
            .user_by_username(username)
            .map(|u| u.id.clone())
            .ok_or_else(|| hook_error(400, "no such user"))?;
        let (channel, new) = direct_channel(db, &owner.id, &other);
        if new {
            new_direct = Some((owner.id.clone(), other));
        }
        channel
    } else if !name.is_empty() {
        let name = name.strip_prefix('#').unwrap_or(name);
        db.channel_by_name(&hook.team_id, name)
            .cloned()
            .ok_or_else(|| hook_error(404, "no such channel"))?
    } else {
        db.channels
            .get(&hook.channel_id)
            .cloned()
            .ok_or_else(|| hook_error(404, "the webhook's channel does not exist"))?
    };
    if hook.channel_locked && hook.channel_id != channel.id {
        return Err(hook_error(403, "this webhook is locked to its channel"));
    }
    if channel.channel_type != "O" && !db.can_read_channel(&owner, &channel) {
        return Err(hook_error(
            403,
            "the webhook's owner cannot read the channel",
        ));
    }
    let mut props = request.props;
    props.insert("webhook_display_name".into(), json!(hook.display_name));
    let mut post_type = request.post_type;
    if let Some(attachments) = request.attachments.filter(|a| !a.is_empty()) {
        props.insert("attachments".into(), Value::Array(attachments));
        post_type = "slack_attachment".into();
    }
    if post_type.starts_with("system_") {
        return Err(hook_error(400, "invalid post.type"));
    }
    // What the caller sends cannot pose as the marks the server sets itself.
    for key in ["from_webhook", "override_username", "override_icon_url"] {
        props.remove(key);
    }
    props.insert("from_webhook".into(), json!("true"));
    if config.enable_post_username_override {
        let name = [request.username.as_str(), hook.username.as_str()]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or(DEFAULT_WEBHOOK_USERNAME);
        props.insert("override_username".into(), json!(name));
    }
    if config.enable_post_icon_override {
        let icon = [request.icon_url.as_str(), hook.icon_url.as_str()]
            .into_iter()
            .find(|n| !n.is_empty());
        if let Some(icon) = icon {
            props.insert("override_icon_url".into(), json!(icon));
        }
        if !request.icon_emoji.is_empty() {
            props.insert("override_icon_emoji".into(), json!(request.icon_emoji));
        }
    }
    let now = db.next_post_time(&channel.id);
    let post = Post {
        id: new_id(),
        create_at: now,
        update_at: now,
        user_id: owner.id.clone(),
        channel_id: channel.id.clone(),
        message: request.text,
        post_type,
        props,
        ..Post::default()
    };
    db.save_post(&post);
    Ok((post, new_direct))
}

/// The direct channel of two users, created when missing (then `true`).
fn direct_channel(db: &mut Db, a: &str, b: &str) -> (Channel, bool) {
    let name = direct_channel_name(a, b);
    if let Some(existing) = db.channel_by_name("", &name) {
        return (existing.clone(), false);
    }
    let now = now_ms();
    let id = db.insert_channel("", "D", &name, "", a, now);
    db.add_channel_member(&id, a, false, now);
    db.add_channel_member(&id, b, false, now);
    (db.channels.get(&id).cloned().unwrap_or_default(), true)
}
