//! HMAC-SHA256 signatures over what sharebot puts in a button's `context` or a dialog's
//! `state`: Mattermost signs nothing it forwards, and a user can see and change a dialog's
//! state, so sharebot trusts only what carries its own signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies `(request id, action, admin)` triples with `server.secret`.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(********)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Signer {
        Signer {
            key: secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self, request_id: &str, action: &str, admin: &str) -> HmacSha256 {
        // new_from_slice accepts keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        // Length-prefixed parts, so no two different triples sign the same bytes.
        for part in ["sharebot/v1", request_id, action, admin] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The hex signature of a triple.
    pub fn sign(&self, request_id: &str, action: &str, admin: &str) -> String {
        let bytes = self.mac(request_id, action, admin).finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` is this triple's (compared in constant time).
    pub fn verify(&self, request_id: &str, action: &str, admin: &str, signature: &str) -> bool {
        let Some(bytes) = decode_hex(signature) else {
            return false;
        };
        self.mac(request_id, action, admin)
            .verify_slice(&bytes)
            .is_ok()
    }
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

    #[test]
    fn a_signature_verifies_only_for_its_own_triple_and_key() {
        let s = Signer::new("0123456789abcdef0123456789abcdef");
        let sig = s.sign("req1", "accept", "admin1");
        assert_eq!(sig.len(), 64);
        assert!(s.verify("req1", "accept", "admin1", &sig));
        assert!(!s.verify("req1", "reject", "admin1", &sig));
        assert!(!s.verify("req2", "accept", "admin1", &sig));
        assert!(!s.verify("req1", "accept", "admin2", &sig));
        // Moving a boundary between parts changes the signature.
        assert!(!s.verify("req1a", "ccept", "admin1", &sig));
        let other = Signer::new("another-secret-another-secret-000");
        assert!(!other.verify("req1", "accept", "admin1", &sig));
        assert!(!s.verify("req1", "accept", "admin1", ""));
        assert!(!s.verify("req1", "accept", "admin1", &sig[..62]));
        assert!(!s.verify("req1", "accept", "admin1", &"zz".repeat(32)));
        assert!(!s.verify("req1", "accept", "admin1", &"é".repeat(32)));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let s = Signer::new("super-secret-signing-key-0123456789");
        assert!(!format!("{s:?}").contains("super-secret"));
    }
}
