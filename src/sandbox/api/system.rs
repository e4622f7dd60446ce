//! `/api/v4/system/ping` and `/api/v4/config/client`: the health check and the public client
//! configuration clients read before logging in (site name, URL, version).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::core::shared::{Shared, SERVER_VERSION};
use super::super::error::{ApiResult, AppError};

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
            "SiteName": state.name,
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
