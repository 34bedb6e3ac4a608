//! Event kinds: the immutable facts recorded about a recipient
//! (DESIGN.md section 2). Statuses are derived from them, never stored as
//! the source of truth.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What happened to one recipient's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Accepted by mailtrail and stored in the queue.
    Queued,
    /// Accepted by the next hop (a smarthost).
    Sent,
    /// A temporary failure; delivery will be retried.
    Deferred,
    /// Accepted by the recipient's server, or a success DSN came back.
    Delivered,
    /// Permanently failed (5xx, hard bounce, or expired after retries).
    Failed,
    /// The tracking pixel was loaded.
    Opened,
    /// A tracked link was followed.
    Clicked,
    /// A tracked document was opened.
    DocumentOpened,
    /// A page of a tracked document was viewed.
    PageViewed,
    /// A tracked document was downloaded.
    DocumentDownloaded,
    /// A read receipt (RFC 8098 MDN) came back.
    ReadReceipt,
    /// Someone replied (RFC 5322 In-Reply-To / References).
    Replied,
    /// An automatic reply came back (RFC 3834); never counted as a reply.
    AutoReplied,
    /// A spam complaint (RFC 5965 ARF) came back.
    Complained,
    /// The recipient unsubscribed (RFC 8058 one-click or the page).
    Unsubscribed,
    /// Not sent: the address is on the suppression list.
    Suppressed,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 16] = [
        Self::Queued,
        Self::Sent,
        Self::Deferred,
        Self::Delivered,
        Self::Failed,
        Self::Opened,
        Self::Clicked,
        Self::DocumentOpened,
        Self::PageViewed,
        Self::DocumentDownloaded,
        Self::ReadReceipt,
        Self::Replied,
        Self::AutoReplied,
        Self::Complained,
        Self::Unsubscribed,
        Self::Suppressed,
    ];

    /// The stable wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Deferred => "deferred",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::DocumentOpened => "document_opened",
            Self::PageViewed => "page_viewed",
            Self::DocumentDownloaded => "document_downloaded",
            Self::ReadReceipt => "read_receipt",
            Self::Replied => "replied",
            Self::AutoReplied => "auto_replied",
            Self::Complained => "complained",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a known event kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?}")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
