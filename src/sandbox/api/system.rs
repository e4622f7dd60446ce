//! `/api/v4/system/ping`, `/api/v4/config/client` and `/api/v4/config`: the health check, the
//! public client configuration clients read before logging in (site name, URL, version), and
//! the server configuration a system admin reads and patches.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::core::shared::{Shared, SERVER_VERSION};
use super::super::error::{ApiResult, AppError};
use super::super::model::config::ServerConfig;
use super::request::{parse_body, Caller};

/// `GET /system/ping`: healthy, no session needed.
pub(crate) async fn ping() -> Json<Value> {
    Json(json!({
        "ActiveSearchBackend": "database",
        "AndroidLatestVersion": "",
        "AndroidMinVersion": "",
        "IosLatestVersion": "",
        "IosMinVersion": "",
        "status": "OK",
    }))
}

#[derive(Deserialize)]
pub(crate) struct ConfigQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /config/client?format=old`: the subset of the configuration a client may see (all
/// values are strings, as the server sends them).
pub(crate) async fn client_config(
    State(state): State<Shared>,
    Query(query): Query<ConfigQuery>,
) -> ApiResult<Json<Value>> {
    match query.format.as_deref() {
        None | Some("") => Err(AppError::invalid_url_param("format")),
        Some("old") => Ok(Json(json!({
            "Version": SERVER_VERSION,
            "BuildNumber": SERVER_VERSION,
            "BuildDate": "",
            "BuildHash": "sandbox",
            "BuildEnterpriseReady": "false",
            "SiteName": state.db().config.team_settings.site_name,
            "SiteURL": state.site_url,
            "DiagnosticId": state.diagnostic_id,
            "TelemetryId": state.diagnostic_id,
            "DiagnosticsEnabled": "false",
            "EnableSignUpWithEmail": "false",
            "EnableSignInWithEmail": "true",
            "EnableSignInWithUsername": "true",
        }))),
        Some(_) => Err(AppError::new(
            501,
            "api.config.client.old_format.app_error",
            "New format for the client configuration is not supported yet. Please specify format=old in the query string.",
        )),
    }
}

/// `GET /config`: the whole configuration, for a system admin (`sysconsole_read_*`).
pub(crate) async fn config(
    State(state): State<Shared>,
    caller: Caller,
) -> ApiResult<Json<ServerConfig>> {
    caller.require_admin("manage_system")?;
    Ok(Json(state.db().config.clone()))
}

/// `PUT /config/patch`: merges a partial configuration into the current one and answers the
/// result, for a system admin.
pub(crate) async fn patch_config(
    State(state): State<Shared>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Json<ServerConfig>> {
    caller.require_admin("manage_system")?;
    let patch: Value = parse_body(&body, "config")?;
    if !patch.is_object() {
        return Err(AppError::invalid_body_param("config", "not an object"));
    }
    let mut db = state.db();
    let patched = db
        .config
        .patched(&patch)
        .map_err(|err| AppError::invalid_body_param("config", err))?;
    if let Some(id) = patched.invalid() {
        return Err(AppError::new(
            400,
            id,
            "Site name must be less than or equal to 30 characters.",
        ));
    }
    db.config = patched.clone();
    Ok(Json(patched))
}
