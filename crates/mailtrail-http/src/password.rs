//! Passwords and new users: one path for the `mailtrail user add` command
//! and the dashboard's user management, so that both hash the same way
//! (Argon2id, RFC 9106, PHC string format) and apply the same rules.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use mailtrail_domain::EmailAddress;
use mailtrail_store::{Store, StoreError, User};
use rand::Rng;
use uuid::Uuid;

/// The shortest password accepted for a new user.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("password: must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    /// The address already belongs to a user (of any organisation).
    #[error("user {0} already exists")]
    Exists(String),
    /// Argon2 failed (it does not for valid parameters).
    #[error("hashing the password: {0}")]
    Hash(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Hashes a password with a fresh salt (Argon2id with the crate's default
/// parameters, which follow RFC 9106 section 4's second recommendation).
pub fn hash(password: &str) -> Result<String, AddUserError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AddUserError::Hash(e.to_string()))
}

/// A random 20-character password for users created without one (no
/// look-alike characters, about 117 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Adds a user to an organisation: checks the password rule, hashes it on
/// the blocking pool (Argon2 is slow on purpose), stores the user.
pub async fn add_user(
    store: &dyn Store,
    org_id: Uuid,
    email: &EmailAddress,
    password: &str,
    is_admin: bool,
) -> Result<User, AddUserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AddUserError::PasswordTooShort);
    }
    let pw = password.to_owned();
    let hashed = tokio::task::spawn_blocking(move || hash(&pw))
        .await
        .map_err(|e| AddUserError::Hash(e.to_string()))??;
    match store.create_user(org_id, email, &hashed, is_admin).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AddUserError::Exists(email.to_string())),
        Err(e) => Err(AddUserError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHash, PasswordVerifier};

    #[test]
    fn hashes_verify() {
        let h = super::hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            argon2::Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        assert_eq!(super::generate().len(), 20);
        assert_ne!(super::generate(), super::generate());
    }
}
