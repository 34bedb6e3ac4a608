//! Secrets sealed at rest: a connected mailbox's password or refresh
//! token is kept in the database only as ChaCha20-Poly1305 ciphertext
//! (RFC 8439), under a key kept outside the database (a file in the data
//! dir, or the configuration). A database dump alone reveals no password;
//! a row copied to another user's row does not open either, because the
//! owner's id is bound to the ciphertext as associated data.
//!
//! The sealed form is `version (1 byte) || nonce (12) || ciphertext+tag`.
//! Nonces are random: with 96 bits and a few sealings per mailbox, a
//! repeat is out of reach (RFC 8439 section 4 asks only that a nonce never
//! repeat under one key).

use std::fmt;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The first byte of a sealed value: its format, so that a later key
/// rotation or algorithm can be told apart.
const VERSION: u8 = 1;

/// The length of a key, in bytes.
pub const KEY_LEN: usize = 32;

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The key is not 32 bytes (64 hexadecimal digits).
    #[error("a sealing key is 32 bytes, written as 64 hexadecimal digits")]
    BadKey,
    /// The value was not sealed with this key for this owner, or was
    /// altered.
    #[error(
        "the sealed value does not open with this key (another key, another owner, or altered)"
    )]
    Open,
}

/// The key secrets are sealed with. It never prints.
pub struct SealingKey(LessSafeKey);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, SealError> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// A key from 64 hexadecimal digits (the key file's form); surrounding
    /// white space is ignored.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SealError::BadKey);
        }
        let bytes: Vec<u8> = (0..KEY_LEN)
            .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| SealError::BadKey))
            .collect::<Result<_, _>>()?;
        Self::new(&bytes)
    }

    /// A fresh random key in its hexadecimal form, for a new key file.
    pub fn generate_hex() -> String {
        let bytes: [u8; KEY_LEN] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `plain` for `owner` (bound as associated data).
    pub fn seal(&self, owner: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        let mut body = plain.to_vec();
        // Only fails when the input is longer than ChaCha20's 256 GiB
        // counter space, which no secret is.
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(owner),
                &mut body,
            )
            .map(|t| t.as_ref().to_vec())
            .unwrap_or_default();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        out
    }

    /// Opens what [`Self::seal`] made for the same `owner`.
    pub fn open(&self, owner: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Open)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(owner), &mut body)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_for_the_same_owner_only() {
        let key = SealingKey::from_hex(&SealingKey::generate_hex()).unwrap();
        let sealed = key.seal(b"user-1", b"imaps://u:hunter2@h/INBOX");
        assert!(
            !sealed.windows(7).any(|w| w == b"hunter2"),
            "no plain text in the sealed form"
        );
        assert_eq!(
            key.open(b"user-1", &sealed).unwrap(),
            b"imaps://u:hunter2@h/INBOX"
        );
        assert_eq!(key.open(b"user-2", &sealed), Err(SealError::Open));
        let other = SealingKey::from_hex(&SealingKey::generate_hex()).unwrap();
        assert_eq!(other.open(b"user-1", &sealed), Err(SealError::Open));
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(key.open(b"user-1", &altered), Err(SealError::Open));
        assert_eq!(key.open(b"user-1", &[]), Err(SealError::Open));
        assert_eq!(key.open(b"user-1", &sealed[..5]), Err(SealError::Open));
        // Two sealings of one secret differ (fresh nonces).
        assert_ne!(key.seal(b"user-1", b"x"), key.seal(b"user-1", b"x"));
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert!(SealingKey::from_hex("00").is_err());
        assert!(SealingKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SealingKey::from_hex(&format!(" {}\n", "ab".repeat(32))).is_ok());
        assert!(!format!("{:?}", SealingKey::from_hex(&"ab".repeat(32)).unwrap()).contains("ab"));
    }
}
