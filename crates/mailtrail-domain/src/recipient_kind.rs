//! Which header a recipient was addressed in.

use serde::{Deserialize, Serialize};

/// To, Cc or Bcc (RFC 5322 section 3.6.3). A Bcc recipient's copy carries no
/// header that reveals them to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientKind {
    /// Primary recipient.
    To,
    /// Carbon copy.
    Cc,
    /// Blind carbon copy.
    Bcc,
}

impl RecipientKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::To => "to",
            Self::Cc => "cc",
            Self::Bcc => "bcc",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "to" => Some(Self::To),
            "cc" => Some(Self::Cc),
            "bcc" => Some(Self::Bcc),
            _ => None,
        }
    }
}
