//! API keys: how they are made, stored and checked.
//!
//! A key is shown to its owner once and only its SHA-256 is stored, so a
//! leaked database does not leak working keys (DESIGN.md section 8). Keys
//! are 40 random base62 characters (about 238 bits), far beyond guessing,
//! which is why a fast unsalted hash is enough here where a password needs
//! argon2: there is nothing to brute-force.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{ApiError, AppState};

/// What every key starts with, so that secret scanners and people can
/// recognise a mailtrail key.
pub const KEY_PREFIX: &str = "mt_";

/// Random characters after [`KEY_PREFIX`].
const KEY_RANDOM_CHARS: usize = 40;

/// How many characters of the key are kept in clear as its visible prefix.
const VISIBLE_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;

/// The hex SHA-256 of a key: the only form in which keys are stored and
/// looked up.
pub fn hash_api_key(key: &str) -> String {
    format!("{:x}", Sha256::digest(key.as_bytes()))
}

/// A fresh key from the operating system's CSPRNG, and its visible prefix
/// (`mt_` and the next 8 characters) that lists of keys show to tell them
/// apart. Returns `(key, prefix)`.
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

/// The authenticated caller of an API request. Everything a handler reads
/// or writes is scoped to `org_id`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    /// The organisation whose data the key may see.
    pub org_id: Uuid,
    /// The key's owner, recorded as the sender of new messages.
    pub user_id: Uuid,
}

/// The key of an `Authorization: Bearer <key>` header. The scheme name is
/// case-insensitive (RFC 7235 section 2.1).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        let owner = state
            .store
            .api_key_owner(&hash_api_key(key))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("org.id", tracing::field::display(owner.org_id));
        Ok(Caller {
            org_id: owner.org_id,
            user_id: owner.user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_sha256() {
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

    #[test]
    fn bearer_parsing() {
        let parts = |v: &str| {
            let req = axum::http::Request::builder()
                .header(AUTHORIZATION, v)
                .body(())
                .expect("request");
            req.into_parts().0
        };
        assert_eq!(bearer_token(&parts("Bearer k1")), Some("k1"));
        assert_eq!(bearer_token(&parts("bearer   k1 ")), Some("k1"));
        assert_eq!(bearer_token(&parts("Basic k1")), None);
        assert_eq!(bearer_token(&parts("Bearer ")), None);
        assert_eq!(bearer_token(&parts("k1")), None);
    }
}
