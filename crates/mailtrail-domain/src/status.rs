//! Status: the most advanced known state of a recipient, derived from its
//! events by the rules of DESIGN.md section 3.
//!
//! - Engagement (opened, clicked, read, replied) outranks delivery.
//! - `failed` is terminal for delivery: a later `deferred` or `sent` (a
//!   retry that raced a bounce) does not undo it, but engagement still shows
//!   (a bounce report can be wrong; an open cannot be faked by us).
//! - A machine open never counts as a person's: it is its own status,
//!   `opened_by_machine`, below a person's open.
//! - complained / unsubscribed outrank everything: they are what the sender
//!   must act on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::event::EventKind;

/// The shown state of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored, waiting for a worker.
    Queued,
    /// Not sent: the address is on the suppression list.
    Suppressed,
    /// A temporary failure; mailtrail is retrying.
    Deferred,
    /// Accepted by the next hop.
    Sent,
    /// Accepted by the recipient's server.
    Delivered,
    /// Permanently failed.
    Failed,
    /// Opened, but only by a machine (privacy prefetch, scanner).
    OpenedByMachine,
    /// Opened by a person (directly or through a provider's image proxy).
    Opened,
    /// A tracked link was followed.
    Clicked,
    /// A read receipt came back.
    Read,
    /// Someone replied.
    Replied,
    /// The recipient unsubscribed.
    Unsubscribed,
    /// The recipient complained (marked as spam).
    Complained,
}

/// Who made an open or click, as far as mailtrail can tell (DESIGN.md
/// section 2, "opener").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opener {
    /// A person, directly.
    Human,
    /// A provider's image proxy acting for a person (e.g. Gmail).
    Proxy,
    /// A machine: privacy prefetch, security scanner, link checker.
    Machine,
    /// The sender themself; recorded, never counted.
    #[serde(rename = "self")]
    SelfOpen,
}

impl Opener {
    /// Whether the open counts as a person's.
    pub fn is_person(self) -> bool {
        matches!(self, Self::Human | Self::Proxy)
    }
}

impl Status {
    /// Every status, lowest rank first.
    pub const ALL: [Status; 13] = [
        Self::Queued,
        Self::Suppressed,
        Self::Deferred,
        Self::Sent,
        Self::Delivered,
        Self::Failed,
        Self::OpenedByMachine,
        Self::Opened,
        Self::Clicked,
        Self::Read,
        Self::Replied,
        Self::Unsubscribed,
        Self::Complained,
    ];

    /// The stable wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Suppressed => "suppressed",
            Self::Deferred => "deferred",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::OpenedByMachine => "opened_by_machine",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::Read => "read",
            Self::Replied => "replied",
            Self::Unsubscribed => "unsubscribed",
            Self::Complained => "complained",
        }
    }

    /// Position in the ranking: a higher rank replaces a lower one.
    pub fn rank(self) -> u8 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    /// Whether this is one of the delivery states (before any engagement).
    pub fn is_delivery(self) -> bool {
        self.rank() <= Self::Failed.rank()
    }

    /// The status after `event` (with its opener, for opens and clicks).
    ///
    /// Events may arrive out of order (a DSN after an open, a retry after a
    /// bounce); the rules keep the result independent of that order for the
    /// cases that matter: the result is the maximum by rank, except that
    /// among delivery states `failed` is terminal and a success report
    /// (`delivered`) can replace a `deferred` or `sent`.
    pub fn apply(self, event: EventKind, opener: Option<Opener>) -> Status {
        let next = match event {
            EventKind::Queued => Self::Queued,
            EventKind::Sent => Self::Sent,
            EventKind::Deferred => Self::Deferred,
            EventKind::Delivered => Self::Delivered,
            EventKind::Failed => Self::Failed,
            EventKind::Suppressed => Self::Suppressed,
            EventKind::Opened
            | EventKind::DocumentOpened
            | EventKind::PageViewed
            | EventKind::DocumentDownloaded => match opener {
                Some(Opener::SelfOpen) => return self,
                Some(Opener::Machine) => Self::OpenedByMachine,
                _ => Self::Opened,
            },
            EventKind::Clicked => match opener {
                Some(Opener::SelfOpen) => return self,
                // A scanner following links proves nothing about a person.
                Some(Opener::Machine) => Self::OpenedByMachine,
                _ => Self::Clicked,
            },
            EventKind::ReadReceipt => Self::Read,
            EventKind::Replied => Self::Replied,
            EventKind::Unsubscribed => Self::Unsubscribed,
            EventKind::Complained => Self::Complained,
            // An out-of-office proves the mailbox exists: delivered, no more.
            EventKind::AutoReplied => Self::Delivered,
        };
        if self == Self::Failed && next.is_delivery() {
            return self;
        }
        if self == Self::Deferred && next == Self::Failed {
            return next;
        }
        if next.rank() >= self.rank() {
            next
        } else {
            self
        }
    }

    /// Folds a whole timeline, oldest first.
    pub fn derive<I>(events: I) -> Status
    where
        I: IntoIterator<Item = (EventKind, Option<Opener>)>,
    {
        events
            .into_iter()
            .fold(Self::Queued, |s, (e, o)| s.apply(e, o))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a known status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl fmt::Display for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Human => "human",
            Self::Proxy => "proxy",
            Self::Machine => "machine",
            Self::SelfOpen => "self",
        })
    }
}

impl FromStr for Opener {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Self::Human),
            "proxy" => Ok(Self::Proxy),
            "machine" => Ok(Self::Machine),
            "self" => Ok(Self::SelfOpen),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as E;
    use proptest::prelude::*;

    fn d(events: &[EventKind]) -> Status {
        Status::derive(events.iter().map(|e| (*e, None)))
    }

    #[test]
    fn delivery_path() {
        assert_eq!(d(&[E::Queued]), Status::Queued);
        assert_eq!(d(&[E::Queued, E::Deferred]), Status::Deferred);
        assert_eq!(d(&[E::Queued, E::Deferred, E::Sent]), Status::Sent);
        assert_eq!(d(&[E::Queued, E::Sent, E::Delivered]), Status::Delivered);
        assert_eq!(d(&[E::Queued, E::Deferred, E::Failed]), Status::Failed);
        assert_eq!(d(&[E::Queued, E::Sent, E::Failed]), Status::Failed);
    }

    #[test]
    fn failed_is_terminal_for_delivery() {
        assert_eq!(d(&[E::Queued, E::Failed, E::Deferred]), Status::Failed);
        assert_eq!(
            d(&[E::Queued, E::Failed, E::Sent, E::Delivered]),
            Status::Failed
        );
    }

    #[test]
    fn engagement_outranks_delivery() {
        assert_eq!(
            d(&[E::Queued, E::Sent, E::Opened, E::Delivered]),
            Status::Opened
        );
        assert_eq!(
            d(&[E::Queued, E::Sent, E::Clicked, E::Opened]),
            Status::Clicked
        );
        assert_eq!(
            d(&[E::Queued, E::Sent, E::ReadReceipt, E::Replied]),
            Status::Replied
        );
    }

    #[test]
    fn machine_and_self_opens() {
        let s = Status::Delivered.apply(E::Opened, Some(Opener::Machine));
        assert_eq!(s, Status::OpenedByMachine);
        assert_eq!(s.apply(E::Opened, Some(Opener::Proxy)), Status::Opened);
        assert_eq!(
            Status::Delivered.apply(E::Opened, Some(Opener::SelfOpen)),
            Status::Delivered
        );
        assert_eq!(
            Status::Opened.apply(E::Opened, Some(Opener::Machine)),
            Status::Opened
        );
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
    }

    proptest! {
        #[test]
        fn never_goes_back_below_engagement(idx in proptest::collection::vec(0usize..16, 0..20)) {
            let events: Vec<_> = idx.iter().map(|i| E::ALL[*i]).collect();
            let mut s = Status::Queued;
            for e in events {
                let n = s.apply(e, None);
                if !s.is_delivery() {
                    prop_assert!(n.rank() >= s.rank());
                }
                s = n;
            }
        }
    }
}
