//! Webhooks' typed values (DESIGN.md section 4, flow 8): the signing secret
//! and signatures of the Standard Webhooks specification, the target URL
//! and the addresses it may not reach, and which events an endpoint takes.

mod events;
pub mod signature;
pub mod target;

pub use events::{EventSelection, InvalidEventSelection};
pub use signature::{SignatureError, WebhookSecret};
pub use target::{TargetError, WebhookUrl, forbidden_range};
