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

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
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
/// Allocates the hash's working memory for this one call; a server that
/// checks passwords often uses [`verify_password_in`] with memory it keeps.
pub fn verify_password(hash: &str, password: &str) -> bool {
    verify_password_in(hash, password, &mut HashMemory::default())
}

/// The largest Argon2 working memory a stored hash may ask for: 256 MiB.
/// A hash naming more (a corrupt or hostile row) matches nothing rather
/// than making one sign-in allocate gigabytes.
const MAX_HASH_MEMORY_KIB: u32 = 256 * 1024;

/// Working memory for Argon2 (RFC 9106 section 3.2: `m` blocks of 1 KiB),
/// kept between checks. Reusing a few of these instead of allocating 19 MiB
/// per attempt keeps a server's memory flat under a sign-in flood: freed
/// blocks of that size stay in the allocator's arenas otherwise.
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    /// The bytes this memory holds now.
    pub fn bytes(&self) -> usize {
        self.0.len() * Block::SIZE
    }
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} KiB)", self.0.len())
    }
}

/// [`verify_password`] with caller-kept working memory, grown to the
/// hash's `m` parameter when smaller and never shrunk. The comparison of
/// the computed and stored hash is constant-time (`password_hash::Output`).
pub fn verify_password_in(hash: &str, password: &str, memory: &mut HashMemory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    if params.m_cost() > MAX_HASH_MEMORY_KIB {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::default());
    }
    let mut out = [0u8; argon2::password_hash::Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory.0[..blocks])
        .is_ok()
        && argon2::password_hash::Output::new(out).is_ok_and(|o| o == expected)
}

/// A hash of a random password, made once with the same parameters as
/// every new password's: sign-in checks the password of an address that
/// has no account against it, so that an unknown address takes as long as
/// a known one and the answer time does not tell which accounts exist
/// (OWASP Authentication Cheat Sheet, "Authentication Responses").
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
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
    fn kept_memory_verifies_and_is_reused() {
        let h = hash_password("correct horse").expect("hash");
        let mut memory = HashMemory::default();
        assert!(verify_password_in(&h, "correct horse", &mut memory));
        let size = memory.bytes();
        assert_eq!(
            size,
            19 * 1024 * 1024,
            "the default m of RFC 9106's second recommendation"
        );
        assert!(!verify_password_in(&h, "correct horsf", &mut memory));
        assert_eq!(memory.bytes(), size);
        assert!(!verify_password_in(
            "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "x",
            &mut memory
        ));
        assert_eq!(
            memory.bytes(),
            size,
            "a hash asking for 1 GiB is refused before allocating"
        );
        assert!(!verify_password_in("not a hash", "x", &mut memory));
        assert!(dummy_hash().starts_with("$argon2id$"));
        assert_eq!(dummy_hash(), dummy_hash());
        assert!(!verify_password(dummy_hash(), "correct horse"));
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
