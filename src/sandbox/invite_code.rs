//! Secure-connection invite codes, byte-compatible with Mattermost's
//! (`RemoteClusterInvite.Encrypt`/`Decrypt` in `server/public/model/remote_cluster.go`):
//! `base64url_padded(salt(16) ‖ nonce(12) ‖ AES-256-GCM(JSON))`, the key being
//! PBKDF2-HMAC-SHA256(password, salt, 600 000, 32) for version ≥ 3, or scrypt(N=32768, r=8,
//! p=1) for older codes. Decryption tries PBKDF2, then scrypt, as the server does.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The invite version current servers write.
pub const CURRENT_VERSION: i64 = 3;
const PBKDF2_ROUNDS: u32 = 600_000;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// What an invite code carries (`model.RemoteClusterInvite`), in the server's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteClusterInvite {
    pub remote_id: String,
    /// Deprecated by the server, kept for compatibility (usually empty).
    #[serde(default)]
    pub remote_team_id: String,
    pub site_url: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub refreshed_token: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Why a code could not be opened. The server answers every one of these the same way (the
/// password cannot be told apart from a damaged code), so callers map them to one message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteError {
    #[error("the invite code is not valid base64")]
    Encoding,
    #[error("the invite code is too short")]
    Length,
    #[error("the invite code or password is wrong")]
    Decrypt,
    #[error("the invite decrypted to unreadable content")]
    Content,
}

fn pbkdf2_key(password: &str, salt: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    let rounds = std::num::NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(std::num::NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut key,
    );
    key
}

fn scrypt_key(password: &str, salt: &[u8]) -> Option<[u8; 32]> {
    let params = scrypt::Params::new(15, 8, 1, 32).ok()?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key).ok()?;
    Some(key)
}

/// Encrypts `invite` with `password` into a code (the key derivation follows `invite.version`).
pub fn encrypt(invite: &RemoteClusterInvite, password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    rand::thread_rng().fill_bytes(&mut nonce);
    seal(invite, password, salt, nonce)
}

fn seal(
    invite: &RemoteClusterInvite,
    password: &str,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
) -> String {
    let key = if invite.version >= CURRENT_VERSION {
        pbkdf2_key(password, &salt)
    } else {
        // Params are constants known to be valid; an all-zero key is never reached.
        scrypt_key(password, &salt).unwrap_or([0u8; 32])
    };
    let plain = serde_json::to_vec(invite).unwrap_or_default();
    let cipher = Aes256Gcm::new(&key.into());
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(SALT_LEN + NONCE_LEN + sealed.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    base64::engine::general_purpose::URL_SAFE.encode(out)
}

/// Opens a code with `password`, trying the PBKDF2 key first and then the legacy scrypt key.
pub fn decrypt(code: &str, password: &str) -> Result<RemoteClusterInvite, InviteError> {
    let blob = base64::engine::general_purpose::URL_SAFE
        .decode(code.trim())
        .map_err(|_| InviteError::Encoding)?;
    if blob.len() <= SALT_LEN + NONCE_LEN {
        return Err(InviteError::Length);
    }
    let (salt, rest) = blob.split_at(SALT_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let open = |key: [u8; 32]| {
        Aes256Gcm::new(&key.into())
            .decrypt(Nonce::from_slice(nonce), sealed)
            .ok()
    };
    let plain = open(pbkdf2_key(password, salt))
        .or_else(|| scrypt_key(password, salt).and_then(open))
        .ok_or(InviteError::Decrypt)?;
    serde_json::from_slice(&plain).map_err(|_| InviteError::Content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(version: i64) -> RemoteClusterInvite {
        RemoteClusterInvite {
            remote_id: "8y5hrp4t1fn1bgy3icbxzk5r9e".into(),
            remote_team_id: String::new(),
            site_url: "http://127.0.0.1:8066".into(),
            token: "k7d3w9a1mxq5uzb8ogfyr2e4hs".into(),
            refreshed_token: String::new(),
            version,
        }
    }

    #[test]
    fn round_trips_both_key_derivations() {
        for version in [CURRENT_VERSION, 0] {
            let code = encrypt(&invite(version), "pa55word");
            assert_eq!(decrypt(&code, "pa55word"), Ok(invite(version)));
            assert_eq!(decrypt(&code, "wrong"), Err(InviteError::Decrypt));
        }
    }

    #[test]
    fn json_matches_go_marshalling() {
        let json = serde_json::to_string(&invite(3)).unwrap();
        assert_eq!(
            json,
            r#"{"remote_id":"8y5hrp4t1fn1bgy3icbxzk5r9e","remote_team_id":"","site_url":"http://127.0.0.1:8066","token":"k7d3w9a1mxq5uzb8ogfyr2e4hs","version":3}"#
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(decrypt("not base64 !!", "x"), Err(InviteError::Encoding));
        assert_eq!(decrypt("AAAA", "x"), Err(InviteError::Length));
        let code = base64::engine::general_purpose::URL_SAFE.encode([7u8; 64]);
        assert_eq!(decrypt(&code, "x"), Err(InviteError::Decrypt));
    }

    #[test]
    fn a_fixed_salt_and_nonce_give_the_committed_vector() {
        // The first vector of tests/fixtures/invite_vectors.json, made by an independent
        // implementation (tests/fixtures/make_invite_vectors.py).
        let salt: [u8; 16] = core::array::from_fn(|i| i as u8);
        let nonce: [u8; 12] = core::array::from_fn(|i| 100 + i as u8);
        let mut inv = invite(3);
        inv.site_url = "https://chat.example.org".into();
        let code = seal(&inv, "correct horse battery staple", salt, nonce);
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/invite_vectors.json")).unwrap();
        assert_eq!(code, vectors[0]["code"].as_str().unwrap());
    }
}
