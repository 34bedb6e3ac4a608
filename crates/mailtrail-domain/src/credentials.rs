//! Credentials: passwords and API keys, made and checked one way for every
//! entry point (the CLI's `user add` and `token create`, the dashboard, the
//! API).
//!
//! Passwords are hashed with Argon2id (RFC 9106) into PHC strings. An API
//! key is shown to its owner once and only its SHA-256 is stored, so a
//! leaked database does not leak working keys (DESIGN.md section 8). Keys
//! are 40 random base62 characters (about 238 bits), far beyond guessing,
//! which is why a fast unsalted hash is enough for them where a password
//! needs Argon2: there is nothing to brute-force.

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

/// The shortest password accepted for a new user.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// What every API key starts with, so that secret scanners and people can
/// recognise a mailtrail key.
pub const KEY_PREFIX: &str = "mt_";

/// Random characters after [`KEY_PREFIX`].
const KEY_RANDOM_CHARS: usize = 40;

/// How many characters of the key are kept in clear as its visible prefix.
const VISIBLE_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;

/// Why a password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("password: must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Argon2 failed (it does not for valid parameters).
    #[error("hashing the password: {0}")]
    Hash(String),
}

/// Hashes a new password with a fresh salt (Argon2id with the crate's
/// default parameters, which follow RFC 9106 section 4's second
/// recommendation), after checking the length rule. Slow on purpose: call
/// it off the async runtime's threads.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches an Argon2 PHC string made by
/// [`hash_password`]; a malformed hash matches nothing. As slow as hashing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random 20-character password for users created without one (no
/// look-alike characters, about 117 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The hex SHA-256 of an API key: the only form in which keys are stored
/// and looked up.
pub fn hash_api_key(key: &str) -> String {
    format!("{:x}", Sha256::digest(key.as_bytes()))
}

/// A fresh API key from the operating system's CSPRNG, and its visible
/// prefix (`mt_` and the next 8 characters) that lists of keys show to tell
/// them apart. Returns `(key, prefix)`.
pub fn generate_api_key() -> (String, String) {
    let random: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    let key = format!("{KEY_PREFIX}{random}");
    let prefix = key[..VISIBLE_PREFIX_CHARS].to_owned();
    (key, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
        assert_eq!(generate_password().len(), 20);
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn api_key_hash_is_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_are_long_random_and_prefixed() {
        let (a, pa) = generate_api_key();
        let (b, _) = generate_api_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert!(a.starts_with(KEY_PREFIX));
        assert!(
            a[KEY_PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert!(a.starts_with(&pa));
        assert_eq!(pa.len(), 11);
    }
}
