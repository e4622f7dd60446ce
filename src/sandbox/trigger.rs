//! Trigger ids for interactive dialogs: issued on a click, signed by this instance, bound to the
//! clicking user, valid for a short time (`model.GenerateTriggerId` / `DecodeAndVerifyTriggerId`,
//! with an HMAC in place of the server's ECDSA signature).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::error::AppError;
use crate::ids::{new_id, now_ms};

/// Signs and verifies trigger ids with a per-instance random key.
pub(crate) struct TriggerSigner {
    key: [u8; 32],
    ttl: Duration,
}

/// A trigger id as issued: the short id the client sees and the signed one the integration gets.
pub(crate) struct Trigger {
    pub client_id: String,
    pub signed: String,
}

impl TriggerSigner {
    pub fn new(ttl: Duration) -> TriggerSigner {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        TriggerSigner { key, ttl }
    }

    fn sign(&self, data: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Issues a trigger for `user_id` at time `at_ms`: `base64("clientId:userId:millis:" + base64(sig))`.
    pub fn issue_at(&self, user_id: &str, at_ms: i64) -> Trigger {
        let client_id = new_id();
        let data = format!("{client_id}:{user_id}:{at_ms}:");
        let signature = STANDARD.encode(self.sign(&data));
        Trigger {
            client_id,
            signed: STANDARD.encode(format!("{data}{signature}")),
        }
    }

    /// Issues a trigger for `user_id` now.
    pub fn issue(&self, user_id: &str) -> Trigger {
        self.issue_at(user_id, now_ms())
    }

    /// Checks a trigger id; returns `(client trigger id, user id)` or the server's error.
    pub fn verify(&self, trigger_id: &str) -> Result<(String, String), AppError> {
        let bad = |id: &str, message: &str| AppError::new(400, id, message.to_string());
        let bytes = STANDARD.decode(trigger_id).map_err(|_| {
            bad(
                "interactive_message.decode_trigger_id.base64_decode_failed",
                "Failed to decode base64 for trigger ID for interactive dialog.",
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 4 {
            return Err(bad(
                "interactive_message.decode_trigger_id.missing_data",
                "Trigger ID missing required data for interactive dialog.",
            ));
        }
        let timestamp: i64 = parts[2].parse().unwrap_or(0);
        if now_ms().saturating_sub(timestamp) > self.ttl.as_millis() as i64 {
            return Err(bad(
                "interactive_message.decode_trigger_id.expired",
                &format!(
                    "Trigger ID for interactive dialog is expired. Trigger IDs live for a maximum of {}.",
                    humantime::format_duration(self.ttl)
                ),
            ));
        }
        let signature = STANDARD.decode(parts[3]).map_err(|_| {
            bad(
                "interactive_message.decode_trigger_id.base64_decode_failed_signature",
                "Failed to decode base64 signature of trigger ID for interactive dialog.",
            )
        })?;
        let data = format!("{}:{}:{}:", parts[0], parts[1], parts[2]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data.as_bytes());
        if mac.verify_slice(&signature).is_err() {
            return Err(bad(
                "interactive_message.decode_trigger_id.verify_signature_failed",
                "Signature verification failed for trigger ID for interactive dialog.",
            ));
        }
        Ok((parts[0].to_string(), parts[1].to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_trigger_verifies_to_its_user() {
        let signer = TriggerSigner::new(Duration::from_secs(3));
        let trigger = signer.issue("user1");
        let (client, user) = signer.verify(&trigger.signed).unwrap();
        assert_eq!(client, trigger.client_id);
        assert_eq!(user, "user1");
    }

    #[test]
    fn an_old_trigger_is_expired() {
        let signer = TriggerSigner::new(Duration::from_secs(3));
        let trigger = signer.issue_at("user1", now_ms() - 10_000);
        let err = signer.verify(&trigger.signed).unwrap_err();
        assert_eq!(err.id, "interactive_message.decode_trigger_id.expired");
    }

    #[test]
    fn another_instance_or_a_forged_user_fails_the_signature() {
        let signer = TriggerSigner::new(Duration::from_secs(3));
        let other = TriggerSigner::new(Duration::from_secs(3));
        let trigger = other.issue("user1");
        let err = signer.verify(&trigger.signed).unwrap_err();
        assert_eq!(
            err.id,
            "interactive_message.decode_trigger_id.verify_signature_failed"
        );

        let mine = signer.issue("user1");
        let decoded = String::from_utf8(STANDARD.decode(&mine.signed).unwrap()).unwrap();
        let forged = STANDARD.encode(decoded.replacen("user1", "user2", 1));
        assert!(signer.verify(&forged).is_err());
        assert_eq!(
            signer.verify("!!").unwrap_err().id,
            "interactive_message.decode_trigger_id.base64_decode_failed"
        );
    }
}
