//! Contacts and sequences as the store keeps them (DESIGN.md section 4,
//! flow 6). Values are checked by the caller before they come here
//! (templates, waits, windows, time zones: `mailtrail_domain::sequence`).

use std::collections::BTreeMap;

use mailtrail_domain::sequence::{SendWindow, Wait};
use time::OffsetDateTime;
use uuid::Uuid;

/// A contact to add or, on import, to update by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    /// Its id if it is new.
    pub id: Uuid,
    /// Its organisation.
    pub org_id: Uuid,
    /// The address, normalised (lower case).
    pub address: String,
    /// The display name.
    pub name: String,
    /// The company.
    pub company: String,
    /// An IANA time zone name.
    pub time_zone: Option<String>,
    /// Custom fields.
    pub fields: BTreeMap<String, String>,
    /// When written.
    pub at: OffsetDateTime,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Its id.
    pub id: Uuid,
    /// Its organisation.
    pub org_id: Uuid,
    /// The address, normalised.
    pub address: String,
    /// The display name.
    pub name: String,
    /// The company.
    pub company: String,
    /// An IANA time zone name.
    pub time_zone: Option<String>,
    /// Custom fields.
    pub fields: BTreeMap<String, String>,
    /// When added.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// One step of a sequence: an email and the wait before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its id.
    pub id: Uuid,
    /// 1-based order.
    pub position: u32,
    /// The subject template (for a reply step, the thread keeps the first
    /// step's subject with `Re:`).
    pub subject: String,
    /// The HTML template.
    pub html: Option<String>,
    /// The text template.
    pub text: Option<String>,
    /// The wait after the previous step.
    pub wait: Wait,
    /// Sent as a new thread instead of a reply to the previous step.
    pub new_thread: bool,
}

/// A sequence with its steps, to add or as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Its id.
    pub id: Uuid,
    /// Its organisation.
    pub org_id: Uuid,
    /// The sending user.
    pub user_id: Uuid,
    /// Its name.
    pub name: String,
    /// The From address.
    pub from_address: String,
    /// The From display name.
    pub from_name: Option<String>,
    /// When it may send; `None` for any time.
    pub window: Option<SendWindow>,
    /// The window's zone for contacts without one.
    pub time_zone: String,
    /// Sends per rolling 24 hours of the sending user.
    pub daily_limit: u32,
    /// Whether every enrolment is held.
    pub paused: bool,
    /// Its steps, in order.
    pub steps: Vec<Step>,
    /// When added.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}
