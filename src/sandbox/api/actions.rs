//! Interactive messages and dialogs: `POST /posts/{post_id}/actions/{action_id}` (calls the
//! action's integration and applies its answer), `POST /actions/dialogs/open|submit`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::super::core::events;
use super::super::core::posts::send_ephemeral;
use super::super::core::shared::Shared;
use super::super::core::status_ok;
use super::super::error::{ApiResult, AppError};
use super::super::model::{null_as_default, Post};
use super::posts::{refuse_edit, EditDoor};
use super::request::{parse_body, path_id, Caller};
use crate::ids::now_ms;

/// Props an integration's update cannot change (`model.PostActionRetainPropKeys`).
const RETAINED_PROPS: [&str; 3] = ["from_webhook", "override_username", "override_icon_url"];

fn integration_error(detail: impl Into<String>) -> AppError {
    AppError::new(
        400,
        "api.post.do_action.action_integration.app_error",
        "Action integration error.",
    )
    .detail(detail)
}

#[derive(Deserialize, Default)]
struct DoActionBody {
    #[serde(default, deserialize_with = "null_as_default")]
    selected_option: String,
}

#[derive(Deserialize, Default)]
struct IntegrationResponse {
    /// Kept raw: an update without `props` keeps the post's props, unlike one with `props: {}`.
    #[serde(default)]
    update: Option<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    ephemeral_text: String,
    #[serde(default, deserialize_with = "null_as_default")]
    goto_location: String,
}

/// What the click needs from the state, read under the lock.
struct Click {
    post: Post,
    ephemeral: bool,
    url: String,
    request: Value,
}

/// POSTs `body` to an integration URL; only a 200 counts (`DoActionRequest`).
async fn call_integration(state: &Shared, url: &str, body: &Value) -> ApiResult<Vec<u8>> {
    let started = std::time::Instant::now();
    let answer = call_integration_timed(state, url, body).await;
    state.integration_timings.record(started.elapsed());
    answer
}

async fn call_integration_timed(state: &Shared, url: &str, body: &Value) -> ApiResult<Vec<u8>> {
    let response = state
        .http
        .post(url)
        .header("Accept", "application/json")
        .json(body)
        .send()
        .await
        .map_err(|err| integration_error(format!("err={}", err.without_url())))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(integration_error(format!(
            "status={}",
            response.status().as_u16()
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|err| integration_error(format!("err={}", err.without_url())))?;
    Ok(bytes.to_vec())
}

/// `POST /posts/{post_id}/actions/{action_id}` `{selected_option?, cookie?}`: finds the
/// action, calls its integration, applies the answer (`DoPostActionWithCookie`).
pub(crate) async fn do_action(
    State(state): State<Shared>,
    caller: Caller,
    Path((post_id, action_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    path_id("post_id", &post_id)?;
    if action_id.is_empty() || !action_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::not_found_route());
    }
    let request: DoActionBody = serde_json::from_slice(&body).unwrap_or_default();
    let trigger = state.triggers.issue(&caller.user.id);
    let click = find_action(
        &state,
        &caller,
        &post_id,
        &action_id,
        &request.selected_option,
        &trigger.signed,
    )?;
    let answer = call_integration(&state, &click.url, &click.request).await?;
    let response = read_answer(&answer)?;
    apply_answer(&state, &caller, &click, &response)?;
    let mut answer = json!({"status": "OK", "trigger_id": trigger.client_id});
    if !response.goto_location.is_empty() {
        answer["goto_location"] = json!(response.goto_location);
    }
    Ok(Json(answer))
}

/// The clicked post (a stored one, else an ephemeral one), if the caller may read its channel,
/// its action and the request for the action's integration.
fn find_action(
    state: &Shared,
    caller: &Caller,
    post_id: &str,
    action_id: &str,
    selected_option: &str,
    trigger_id: &str,
) -> ApiResult<Click> {
    let db = state.db();
    let (post, ephemeral) = match db.posts.get(post_id).filter(|p| p.delete_at == 0) {
        Some(post) => (post.clone(), false),
        None => match db.ephemeral_posts.get(post_id) {
            Some(post) => (post.clone(), true),
            None => return Err(caller.denied("read_channel_content")),
        },
    };
    let channel = db
        .channels
        .get(&post.channel_id)
        .cloned()
        .ok_or_else(AppError::missing_channel)?;
    if !db.can_read_channel(&caller.user, &channel) {
        return Err(caller.denied("read_channel_content"));
    }
    let action = post.action(action_id).cloned();
    let integration = action
        .as_ref()
        .and_then(|a| a.get("integration"))
        .and_then(Value::as_object)
        .cloned();
    let (Some(action), Some(integration)) = (action, integration) else {
        return Err(AppError::new(
            404,
            "api.post.do_action.action_id.app_error",
            "Invalid action id.",
        ));
    };
    let team_name = db
        .teams
        .get(&channel.team_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let request = json!({
        "user_id": caller.user.id,
        "user_name": caller.user.username,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "team_id": channel.team_id,
        "team_domain": team_name,
        "post_id": post.id,
        "trigger_id": trigger_id,
    });
    Ok(Click {
        url: text(integration.get("url")),
        request: with_action_fields(request, &action, &integration, selected_option),
        post,
        ephemeral,
    })
}

/// A JSON string value, or empty.
fn text(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Adds the action's `type`, `data_source` and `context` to the integration request.
fn with_action_fields(
    mut request: Value,
    action: &Map<String, Value>,
    integration: &Map<String, Value>,
    selected_option: &str,
) -> Value {
    let action_type = text(action.get("type"));
    let mut context = integration
        .get("context")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The server fills `data_source` only for a select with a chosen option
    // (`app/integration_action.go`); otherwise it stays empty.
    let mut data_source = String::new();
    if action_type == "select" && !selected_option.is_empty() {
        context.insert("selected_option".into(), json!(selected_option));
        data_source = text(action.get("data_source"));
    }
    request["type"] = json!(action_type);
    request["data_source"] = json!(data_source);
    if !context.is_empty() {
        request["context"] = Value::Object(context);
    }
    request
}

/// The integration's answer; an empty (or blank) body is an empty answer.
fn read_answer(answer: &[u8]) -> ApiResult<IntegrationResponse> {
    if answer.iter().all(u8::is_ascii_whitespace) {
        Ok(IntegrationResponse::default())
    } else {
        serde_json::from_slice(answer).map_err(|err| integration_error(err.to_string()))
    }
}

/// Keeps the clicked post's values of the props an integration cannot change.
fn retain_props(clicked: &Post, props: &mut Map<String, Value>) {
    for key in RETAINED_PROPS {
        match clicked.props.get(key) {
            Some(value) => props.insert(key.to_string(), value.clone()),
            None => props.remove(key),
        };
    }
}

/// Applies the integration's answer: its `update` replaces the clicked post, its
/// `ephemeral_text` goes to the clicker.
fn apply_answer(
    state: &Shared,
    caller: &Caller,
    click: &Click,
    response: &IntegrationResponse,
) -> ApiResult<()> {
    if let Some(update) = response.update.as_ref().filter(|u| u.is_object()) {
        update_post(state, caller, click, update)?;
    }
    if !response.ephemeral_text.is_empty() {
        send_ephemeral_text(state, caller, click, &response.ephemeral_text);
    }
    Ok(())
}

/// Replaces the clicked post's message, props and files with an integration's `update`
/// (without `props`, the post keeps its own) and sends `post_edited`.
fn update_post(state: &Shared, caller: &Caller, click: &Click, update: &Value) -> ApiResult<()> {
    let props_given = update.get("props").is_some_and(|p| !p.is_null());
    let mut update: Post =
        serde_json::from_value(update.clone()).map_err(|err| integration_error(err.to_string()))?;
    if props_given {
        retain_props(&click.post, &mut update.props);
    } else {
        update.props = click.post.props.clone();
    }
    let edited = {
        let mut db = state.db();
        // `DoPostActionWithCookie` hands the update to `app.UpdatePost`, which refuses system
        // posts and posts in archived channels (not the REST edit time limit); the click then
        // fails with that error.
        if !click.ephemeral {
            if let Some(current) = db.posts.get(&click.post.id) {
                refuse_edit(&db, current, &update, EditDoor::Integration)?;
            }
        }
        let stored = if click.ephemeral {
            db.ephemeral_posts.get_mut(&click.post.id)
        } else {
            db.posts.get_mut(&click.post.id)
        };
        match stored {
            Some(stored) => {
                let now = now_ms();
                if stored.message != update.message {
                    stored.edit_at = now;
                }
                stored.message = update.message;
                stored.props = update.props;
                stored.file_ids = update.file_ids;
                stored.update_at = now;
                stored.generate_action_ids();
                let post = stored.clone();
                let recipients = if click.ephemeral {
                    vec![caller.user.id.clone()]
                } else {
                    db.channel_member_ids(&post.channel_id)
                };
                Some((recipients, post))
            }
            None => None,
        }
    };
    // An ephemeral post is updated for the clicker alone (`UpdateEphemeralPost`).
    if let Some((recipients, post)) = edited {
        events::post_edited(&state.hub, &recipients, &post);
    }
    Ok(())
}

/// Sends an integration's `ephemeral_text` to the clicker, in the clicked post's thread.
fn send_ephemeral_text(state: &Shared, caller: &Caller, click: &Click, message: &str) {
    let root_id = if click.post.root_id.is_empty() {
        click.post.id.clone()
    } else {
        click.post.root_id.clone()
    };
    let mut post = Post {
        channel_id: click.post.channel_id.clone(),
        root_id,
        user_id: click.post.user_id.clone(),
        message: message.to_string(),
        ..Post::default()
    };
    post.props.insert("from_webhook".into(), json!("true"));
    retain_props(&click.post, &mut post.props);
    send_ephemeral(state, &caller.user.id, post);
}

/// `model.Dialog`, re-encoded as the server does before sending it in `open_dialog`.
#[derive(Deserialize, Serialize, Default)]
struct Dialog {
    #[serde(default, deserialize_with = "null_as_default")]
    callback_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    introduction_text: String,
    #[serde(default, deserialize_with = "null_as_default")]
    icon_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    elements: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    submit_label: String,
    #[serde(default, deserialize_with = "null_as_default")]
    notify_on_cancel: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    state: String,
}

#[derive(Deserialize, Serialize)]
struct OpenDialogRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    trigger_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    dialog: Dialog,
}

/// Problems `Dialog.IsValid` / `DialogElement.IsValid` (`model/integration_action.go`, 10.11)
/// would report. The server only logs them and opens the dialog anyway
/// (`app/integration_action.go`, `OpenInteractiveDialog`); lengths are Go `len`, in bytes.
fn dialog_problems(dialog: &Dialog) -> Vec<String> {
    let mut problems = Vec::new();
    if dialog.title.is_empty() || dialog.title.len() > 24 {
        problems.push(format!("invalid dialog title {:?}", dialog.title));
    }
    let mut names = std::collections::HashSet::new();
    for element in &dialog.elements {
        let field = |key: &str| text(element.get(key));
        let number = |key: &str| element.get(key).and_then(Value::as_i64).unwrap_or(0);
        let name = field("name");
        if !names.insert(name.clone()) {
            problems.push(format!("duplicate dialog element {name:?}"));
        }
        let mut fail = |what: String| problems.push(format!("{name:?} field is not valid: {what}"));
        let (min, max) = (number("min_length"), number("max_length"));
        if min < 0 || min > max {
            fail(format!("min length {min}, max length {max}"));
        }
        for (key, limit, required) in [
            ("display_name", 24, true),
            ("name", 300, true),
            ("help_text", 150, false),
        ] {
            let value = field(key);
            if (required && value.is_empty()) || value.len() > limit {
                fail(format!("{key} is empty or longer than {limit}"));
            }
        }
        let kind = field("type");
        let (default_max, placeholder_max) = match kind.as_str() {
            "text" | "date" | "datetime" => (150, 150),
            "textarea" => (3000, 3000),
            "select" => (3000, 3000),
            "bool" => (usize::MAX, 150),
            "radio" => (usize::MAX, usize::MAX),
            _ => {
                fail(format!("invalid element type: {kind:?}"));
                continue;
            }
        };
        if field("default").len() > default_max || field("placeholder").len() > placeholder_max {
            fail("default or placeholder too long".into());
        }
        let subtype = field("subtype");
        if matches!(kind.as_str(), "text" | "textarea")
            && !["", "text", "email", "number", "tel", "url", "password"]
                .contains(&subtype.as_str())
        {
            fail(format!("invalid subtype {subtype:?}"));
        }
        let default = field("default");
        let listed = element
            .get("options")
            .and_then(Value::as_array)
            .is_some_and(|o| o.iter().any(|o| text(o.get("value")) == default));
        let static_options =
            kind == "radio" || (kind == "select" && field("data_source").is_empty());
        if static_options && !default.is_empty() && !listed {
            fail(format!(
                "default value {default:?} doesn't exist in options"
            ));
        }
    }
    problems
}

/// `POST /actions/dialogs/open` `{trigger_id, url, dialog}`: no session needed; the trigger
/// must verify and be fresh; `open_dialog` goes to the user the trigger was issued to.
pub(crate) async fn open_dialog(
    State(state): State<Shared>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let mut request: OpenDialogRequest = parse_body(&body, "dialog")?;
    if request.url.is_empty() {
        return Err(AppError::invalid_param("url"));
    }
    let (client_trigger, user_id) = state.triggers.verify(&request.trigger_id)?;
    request.trigger_id = client_trigger;
    for problem in dialog_problems(&request.dialog) {
        tracing::warn!(%problem, "interactive dialog is invalid");
    }
    let value = serde_json::to_value(&request).unwrap_or(Value::Null);
    events::open_dialog(&state.hub, &user_id, &value);
    Ok(status_ok())
}

#[derive(Deserialize)]
struct SubmitBody {
    #[serde(default, deserialize_with = "null_as_default")]
    url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    callback_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    state: String,
    #[serde(default, deserialize_with = "null_as_default")]
    channel_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    submission: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    cancelled: bool,
}

/// `POST /actions/dialogs/submit`: forwards a `dialog_submission` (with the caller as
/// `user_id`) to the dialog's URL and answers 200 with the integration's
/// `{error?, errors?, type?, form?}` (an empty object when it said nothing).
pub(crate) async fn submit_dialog(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let submit: SubmitBody = parse_body(&body, "dialog")?;
    if submit.url.is_empty() {
        return Err(AppError::invalid_param("url"));
    }
    {
        let db = state.db();
        let channel = db
            .channels
            .get(&submit.channel_id)
            .ok_or_else(AppError::missing_channel)?;
        if !db.can_read_channel(&caller.user, channel) {
            return Err(caller.denied("read_channel_content"));
        }
        if !db.can_view_team(&caller.user, &submit.team_id) {
            return Err(caller.denied("view_team"));
        }
    }
    let upstream = json!({
        "type": "dialog_submission",
        "callback_id": submit.callback_id,
        "state": submit.state,
        "user_id": caller.user.id,
        "channel_id": submit.channel_id,
        "team_id": submit.team_id,
        "submission": submit.submission,
        "cancelled": submit.cancelled,
    });
    let answer = call_integration(&state, &submit.url, &upstream).await?;
    if answer.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json(json!({})));
    }
    let parsed: Map<String, Value> = serde_json::from_slice(&answer).map_err(|err| {
        AppError::new(
            400,
            "app.submit_interactive_dialog.decode_json_error",
            "Failed to decode the interactive dialog response.",
        )
        .detail(err.to_string())
    })?;
    let mut out = Map::new();
    for key in ["error", "errors", "type", "form"] {
        if let Some(value) = parsed.get(key).filter(|v| !is_empty(v)) {
            out.insert(key.to_string(), value.clone());
        }
    }
    Ok(Json(Value::Object(out)))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
