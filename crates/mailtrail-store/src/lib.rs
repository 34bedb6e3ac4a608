//! Persistence for mailtrail: a [`Store`] trait per concern with a SQLite
//! and a PostgreSQL implementation, each with its own migrations (DESIGN.md
//! sections 5 and 9). Only this crate knows SQL.
//!
//! Callers hold an `Arc<dyn Store>` and `use mailtrail_store::prelude::*`
//! to call any of its methods.

mod add_user;
mod columns;
pub mod dashboard;
mod error;
mod fold;
pub mod inbound;
pub mod journal;
pub mod model;
pub mod new_message;
mod portable;
pub mod postgres;
mod search;
pub mod sending_domain;
pub mod sequence;
mod signal;
pub mod sqlite;
mod store;
pub mod user_mailbox;
pub mod webhook;

pub use add_user::{AddUserError, add_user};
pub use dashboard::*;
pub use error::StoreError;
pub use model::*;
pub use sending_domain::{NewSendingDomain, PrivateKeyPem, SendingDomain};
pub use store::{
    AccountStore, DashboardStore, InboundStore, MessageStore, SendingDomainStore, SequenceStore,
    Store, TrackingStore, UserMailboxStore, WebhookStore, connect,
};

/// The store traits, so that their methods can be called on a
/// `dyn Store`: `use mailtrail_store::prelude::*`.
pub mod prelude {
    pub use crate::store::{
        AccountStore, DashboardStore, InboundStore, MessageStore, SendingDomainStore,
        SequenceStore, Store, TrackingStore, UserMailboxStore, WebhookStore,
    };
}
