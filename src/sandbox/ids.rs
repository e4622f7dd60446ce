//! Mattermost-style identifiers and timestamps (`model.NewId`, `model.GetMillis`).

use rand::RngCore;

/// The lowercase base32 alphabet Mattermost encodes its ids with.
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// A new 26-character id: 16 random bytes in Mattermost's base32 alphabet, unpadded.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    encode(&bytes)
}

/// Base32 (no padding) with the Mattermost alphabet.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Whether `id` looks like a Mattermost id (`model.IsValidId`: 26 alphanumeric characters).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Milliseconds since the Unix epoch, as every Mattermost timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_chars_of_the_alphabet_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a, b);
        assert!(is_valid_id(&a));
    }

    #[test]
    fn encoding_matches_base32_with_the_custom_alphabet() {
        // RFC 4648 base32 of [0xff] is "74" (unpadded); map through the alphabet: 31 -> '9', 28 -> 'h'.
        assert_eq!(encode(&[0xff]), "9h");
        assert_eq!(encode(&[0, 0, 0, 0, 0]), "yyyyyyyy");
    }

    #[test]
    fn invalid_ids_are_refused() {
        assert!(!is_valid_id("short"));
        assert!(!is_valid_id("abcdefghijklmnopqrstuvwxy_"));
    }
}
