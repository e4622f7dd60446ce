//! Mattermost-style ids (26 characters of lower-case base32, `model.NewId`) and timestamps
//! (milliseconds since the epoch, `model.GetMillis`).

use rand::RngCore;

/// Mattermost's base32 alphabet (`model.encoding`).
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// A new random 26-character id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    encode(&bytes)
}

/// Base32 (no padding) of 16 bytes: 128 bits give 26 characters.
fn encode(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(26);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Milliseconds since the epoch, as Mattermost counts time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether `s` has the shape of a Mattermost id.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_mattermost_shape_and_differ() {
        let a = new_id();
        let b = new_id();
        assert!(is_valid_id(&a), "{a}");
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn encoding_matches_base32_with_the_mattermost_alphabet() {
        assert_eq!(encode(&[0u8; 16]), "y".repeat(26));
        // 125 bits of ones, then 3 one bits padded with two zero bits: 0b11100 = 28 = 'h'.
        assert_eq!(encode(&[0xff; 16]), format!("{}h", "9".repeat(25)));
        assert!(!is_valid_id("short"));
        assert!(!is_valid_id("abcdefghijklmnopqrstuvwxy-"));
    }
}
