//! HMAC-SHA256 seals over what sharebot puts in a button's `context` or a dialog's `state`:
//! Mattermost signs nothing it forwards, and a user can see and change a dialog's state, so
//! sharebot trusts only what carries its own seal. A seal covers every field of the map (only
//! `selected_option`, which Mattermost adds with the user's pick, is left out), with the time
//! it was issued (`iat`) and the id of the key that made it (`kid`), so `server.secret` can be
//! changed while `server.previous_secret` still opens what the old one sealed.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The field holding the signature.
pub const SIG: &str = "sig";
/// The field naming the key that made the signature.
pub const KID: &str = "kid";
/// The field holding when the seal was made (milliseconds since the epoch).
pub const IAT: &str = "iat";
/// What Mattermost adds to a select's context: the user's pick, never sealed.
pub const SELECTED_OPTION: &str = "selected_option";

/// One signing key and its public id.
#[derive(Clone)]
struct Key {
    id: String,
    bytes: Vec<u8>,
}

impl Key {
    fn new(secret: &str) -> Key {
        let bytes = secret.as_bytes().to_vec();
        // The id is a MAC of a fixed label: it names the key without revealing it.
        let mut mac = HmacSha256::new_from_slice(&bytes).unwrap_or_else(|_| unreachable!());
        mac.update(b"sharebot/key-id");
        let id = hex(&mac.finalize().into_bytes()[..4]);
        Key { id, bytes }
    }

    /// The MAC over every field but the signature and the user's pick, in key order, each
    /// name and value length-prefixed; `None` when a field is not a string (nothing sharebot
    /// seals).
    fn mac(&self, map: &Map<String, Value>) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.bytes).unwrap_or_else(|_| unreachable!());
        let mut fields: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(k, _)| k.as_str() != SIG && k.as_str() != SELECTED_OPTION)
            .collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let mut put = |part: &str| {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        };
        put("sharebot/v2");
        for (name, value) in fields {
            put(name);
            put(value.as_str()?);
        }
        Some(mac)
    }
}

/// Why a sealed map was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsealed {
    /// No signature, key id or issue time: never sealed by sharebot.
    Missing,
    /// Sealed with a key that is neither `server.secret` nor `server.previous_secret`.
    UnknownKey { kid: String },
    /// A known key, but the fields are not what it sealed.
    Altered { kid: String },
}

/// What a verified seal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// When it was sealed (milliseconds since the epoch).
    pub issued_at: i64,
    /// Sealed with `server.previous_secret` (accepted while that is set).
    pub previous_key: bool,
}

/// Seals and opens maps with `server.secret`, and opens with `server.previous_secret` too.
#[derive(Clone)]
pub struct Signer {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(********)")
    }
}

impl Signer {
    pub fn new(secret: &str, previous: Option<&str>) -> Signer {
        Signer {
            current: Key::new(secret),
            previous: previous.map(Key::new),
        }
    }

    /// The id of the current key (what new seals carry as `kid`).
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// `fields` sealed now with the current key: every field plus `iat`, `kid` and `sig`
    /// (an older seal's are replaced). Every value must be a string.
    pub fn seal(&self, fields: Map<String, Value>) -> Map<String, Value> {
        self.seal_at(fields, crate::ids::now_ms())
    }

    fn seal_at(&self, mut fields: Map<String, Value>, at: i64) -> Map<String, Value> {
        fields.remove(SIG);
        fields.remove(SELECTED_OPTION);
        fields.insert(IAT.into(), json!(at.to_string()));
        fields.insert(KID.into(), json!(self.current.id));
        let sig = self
            .current
            .mac(&fields)
            .map(|m| hex(&m.finalize().into_bytes()))
            .unwrap_or_default();
        fields.insert(SIG.into(), json!(sig));
        fields
    }

    /// Checks a sealed map. A refusal is logged here, once, as a warning saying what to
    /// check; neither the key nor the signature is ever logged.
    pub fn open(&self, map: &Map<String, Value>) -> Result<Opened, Unsealed> {
        let result = self.check(map);
        match &result {
            Err(Unsealed::Missing) => {}
            Err(Unsealed::UnknownKey { kid }) => tracing::warn!(
                kid = %kid,
                current_kid = %self.current.id,
                "refused a click or dialog signed with an unknown key: was `server.secret` changed? Set the old value as `server.previous_secret` until the bot has re-signed its open posts at start-up (dialogs opened before the change need it too); if the secret did not change, the callback is forged"
            ),
            Err(Unsealed::Altered { kid }) => tracing::warn!(
                kid = %kid,
                "refused a click or dialog whose signature does not verify: its context was altered or forged (was `server.secret` changed with the same key id? check `server.secret` and `server.previous_secret`)"
            ),
            Ok(opened) if opened.previous_key => tracing::info!(
                "accepted a click or dialog signed with `server.previous_secret`; it can be unset once every open post is re-signed (done at start-up)"
            ),
            Ok(_) => {}
        }
        result
    }

    fn check(&self, map: &Map<String, Value>) -> Result<Opened, Unsealed> {
        let field = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (Some(sig), Some(kid), Some(iat)) = (field(SIG), field(KID), field(IAT)) else {
            return Err(Unsealed::Missing);
        };
        let (key, previous_key) = if kid == self.current.id {
            (&self.current, false)
        } else {
            match self.previous.as_ref().filter(|k| k.id == kid) {
                Some(key) => (key, true),
                None => {
                    return Err(Unsealed::UnknownKey {
                        kid: kid.chars().take(16).collect(),
                    })
                }
            }
        };
        let altered = || Unsealed::Altered {
            kid: kid.to_string(),
        };
        let bytes = decode_hex(sig).ok_or_else(altered)?;
        let mac = key.mac(map).ok_or_else(altered)?;
        mac.verify_slice(&bytes).map_err(|_| altered())?;
        let issued_at = iat.parse::<i64>().map_err(|_| altered())?;
        Ok(Opened {
            issued_at,
            previous_key,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const OLD: &str = "another-secret-another-secret-000";

    fn fields() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("request".into(), json!("req1"));
        m.insert("action".into(), json!("accept"));
        m.insert("recipient".into(), json!("admin1"));
        m
    }

    #[test]
    fn a_seal_covers_every_field_and_carries_its_key_and_time() {
        let s = Signer::new(KEY, None);
        let sealed = s.seal_at(fields(), 1_700_000_000_000);
        assert_eq!(sealed[KID], json!(s.key_id()));
        assert_eq!(sealed[IAT], json!("1700000000000"));
        assert_eq!(sealed[SIG].as_str().unwrap().len(), 64);
        let opened = s.check(&sealed).unwrap();
        assert_eq!(opened.issued_at, 1_700_000_000_000);
        assert!(!opened.previous_key);
        // The user's pick is not sealed: Mattermost adds it.
        let mut picked = sealed.clone();
        picked.insert(SELECTED_OPTION.into(), json!("team1"));
        assert!(s.check(&picked).is_ok());
        // Any other change, addition or removal breaks it.
        for (k, v) in [
            ("action", json!("reject")),
            ("request", json!("req2")),
            ("channel", json!("elsewhere")),
            (IAT, json!("1800000000000")),
            ("recipient", json!(1)),
        ] {
            let mut changed = sealed.clone();
            changed.insert(k.into(), v);
            assert!(
                matches!(s.check(&changed), Err(Unsealed::Altered { .. })),
                "{k}"
            );
        }
        let mut removed = sealed.clone();
        removed.remove("recipient");
        assert!(s.check(&removed).is_err());
        // Moving a boundary between a name and its value changes the signature.
        let mut shifted = sealed.clone();
        shifted.remove("action");
        shifted.insert("actio".into(), json!("naccept"));
        assert!(s.check(&shifted).is_err());
        for bad in ["", "zz", &"é".repeat(32), &"0".repeat(64)] {
            let mut forged = sealed.clone();
            forged.insert(SIG.into(), json!(bad));
            assert!(s.check(&forged).is_err());
        }
        assert_eq!(s.check(&fields()), Err(Unsealed::Missing));
    }

    #[test]
    fn the_previous_key_opens_until_it_is_unset_and_a_reseal_uses_the_current_one() {
        let old = Signer::new(OLD, None);
        let sealed = old.seal(fields());
        let rotated = Signer::new(KEY, Some(OLD));
        assert_ne!(rotated.key_id(), old.key_id());
        assert!(rotated.check(&sealed).unwrap().previous_key);
        let resealed = rotated.seal(sealed.clone());
        assert_eq!(resealed[KID], json!(rotated.key_id()));
        let after = Signer::new(KEY, None);
        assert!(after.check(&resealed).is_ok());
        assert_eq!(
            after.check(&sealed),
            Err(Unsealed::UnknownKey {
                kid: old.key_id().to_string()
            })
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output_or_its_id() {
        let s = Signer::new("super-secret-signing-key-0123456789", None);
        assert!(!format!("{s:?}").contains("super-secret"));
        assert_eq!(s.key_id().len(), 8);
        assert!(!"super-secret-signing-key-0123456789".contains(s.key_id()));
    }
}
