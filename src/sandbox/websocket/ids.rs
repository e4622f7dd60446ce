//! Mattermost-style ids: 26 characters, base32 of 16 random bytes with the alphabet
//! `ybndrfg8ejkmcpqxot1uwisza345h769` (`model.NewId`).

use rand::RngCore;

const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// A new random id, as `model.NewId` makes them.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(26);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        acc = (acc << 8) | u32::from(byte);
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

/// Whether `value` looks like an id (`model.IsValidId`: 26 letters or digits).
pub fn is_valid_id(value: &str) -> bool {
    value.len() == 26 && value.bytes().all(|b| b.is_ascii_alphanumeric())
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
        assert!(is_valid_id(&a));
        assert_ne!(a, b);
        assert!(!is_valid_id("short"));
        assert!(!is_valid_id("abcdefghijklmnopqrstuvwxy-"));
    }
}
