//! Typed values of mailtrail's domain: addresses, message ids, tokens, event
//! kinds, status rules, bounce reasons and credentials. No I/O lives here; everything is
//! checked once at the edge and then trusted (DESIGN.md section 6).

pub mod credentials;
mod email_address;
mod event;
mod message_id;
mod name_addr;
mod reason;
mod recipient_kind;
mod recipient_state;
pub mod sealed;
pub mod sequence;
mod status;
pub mod token;
pub mod webhook;

pub use email_address::{AddressError, EmailAddress};
pub use event::{EventKind, UnknownEventKind};
pub use message_id::{InvalidMessageId, MessageId};
pub use name_addr::{NameAddr, NameAddrError, parse_name_addr};
pub use reason::{EnhancedStatus, Reason, UnknownReason};
pub use recipient_kind::RecipientKind;
pub use recipient_state::{NewEvent, RecipientState, StatusReason, by_person, implied_open_id};
pub use status::{Opener, Status, UnknownStatus};
pub use token::{Claims, Keyring, Purpose, TokenError, TokenKey, TrackingPayload};
