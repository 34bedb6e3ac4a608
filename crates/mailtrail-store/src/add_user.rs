//! Adding a user: one path for the `mailtrail user add` command and the
//! dashboard's user management, so that both apply the same password rule
//! and hash the same way ([`mailtrail_domain::credentials`]).

use mailtrail_domain::EmailAddress;
use mailtrail_domain::credentials::{PasswordError, hash_password};
use uuid::Uuid;

use crate::{AccountStore, StoreError, User};

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    /// The password breaks the rule, or could not be hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The address already belongs to a user (of any organisation).
    #[error("user {0} already exists")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Adds a user to an organisation: checks the password rule, hashes it on
/// the blocking pool (Argon2 is slow on purpose), stores the user.
pub async fn add_user(
    store: &dyn AccountStore,
    org_id: Uuid,
    email: &EmailAddress,
    password: &str,
    is_admin: bool,
) -> Result<User, AddUserError> {
    let pw = password.to_owned();
    let hashed = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))??;
    match store.create_user(org_id, email, &hashed, is_admin).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AddUserError::Exists(email.to_string())),
        Err(e) => Err(AddUserError::Store(e)),
    }
}
