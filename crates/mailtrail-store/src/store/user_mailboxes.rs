//! The [`UserMailboxStore`] trait.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::user_mailbox::*;

/// Users' own mailboxes, one each, their URLs sealed.
#[async_trait]
pub trait UserMailboxStore: Send + Sync {
    /// Connects the user's mailbox, replacing the one connected before
    /// (and forgetting its failures); `NotFound("user")` if there is no
    /// such user.
    async fn put_user_mailbox(&self, mailbox: &NewUserMailbox) -> Result<(), StoreError>;

    /// The user's mailbox, if connected.
    async fn user_mailbox(&self, user_id: Uuid) -> Result<Option<UserMailbox>, StoreError>;

    /// Every connected mailbox, for the pollers.
    async fn all_user_mailboxes(&self) -> Result<Vec<UserMailbox>, StoreError>;

    /// Removes the user's mailbox; whether there was one.
    async fn delete_user_mailbox(&self, user_id: Uuid) -> Result<bool, StoreError>;

    /// Records how a session went: `None` for a success (which clears the
    /// failure), or the error, whose first occurrence since the last
    /// success is kept as `failing_since`.
    async fn record_user_mailbox_session(
        &self,
        user_id: Uuid,
        at: OffsetDateTime,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
}
