//! How a request names its token, as the server finds it (`ParseAuthTokenFromRequest`):
//! `Authorization: Bearer|Token …`, else the `MMAUTHTOKEN` cookie.

use axum::http::HeaderMap;

/// The token in `Authorization: Bearer|Token <t>` (either scheme, any case).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    for scheme in ["bearer ", "token "] {
        let prefixed = value
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme));
        if let Some(token) = value.get(scheme.len()..).filter(|_| prefixed) {
            return Some(token.trim().to_owned()).filter(|t| !t.is_empty());
        }
    }
    None
}

/// The bearer token, else the `MMAUTHTOKEN` cookie (what the WebSocket upgrade and the rate
/// limiter go by).
pub(crate) fn request_token(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).or_else(|| {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "MMAUTHTOKEN")
            .map(|(_, value)| value.to_owned())
    })
}
