//! The Message-ID that mailtrail generates for each message (RFC 5322
//! section 3.6.4). Every bounce, receipt and reply is joined on it, so it is
//! always ours, globally unique, and free of characters that any MTA would
//! rewrite.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A `msg-id` without its angle brackets: `id-left@id-right`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

/// The text is not a usable `msg-id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Message-ID: {0}")]
pub struct InvalidMessageId(&'static str);

impl MessageId {
    /// A fresh id: a UUIDv7 (time-ordered, random) at the sending domain.
    pub fn generate(domain: &str) -> Self {
        Self(format!("{}@{}", uuid::Uuid::now_v7().simple(), domain))
    }

    /// Parses a `msg-id` with or without angle brackets, as it appears in
    /// `Message-ID`, `In-Reply-To`, `References` or `Original-Message-ID`.
    pub fn parse(s: &str) -> Result<Self, InvalidMessageId> {
        let s = s.trim();
        let s = s.strip_prefix('<').unwrap_or(s);
        let s = s.strip_suffix('>').unwrap_or(s);
        if s.is_empty() || s.len() > 998 {
            return Err(InvalidMessageId("empty or too long"));
        }
        if !s.contains('@') {
            return Err(InvalidMessageId("no @"));
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'<' || b == b'>')
        {
            return Err(InvalidMessageId(
                "contains whitespace, control characters or brackets",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id without brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The header form, `<id-left@id-right>`.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_and_parse() {
        let id = MessageId::generate("mail.example");
        assert!(id.as_str().ends_with("@mail.example"));
        assert_eq!(MessageId::parse(&id.bracketed()).unwrap(), id);
        assert!(MessageId::parse("<a b@c>").is_err());
        assert!(MessageId::parse("<>").is_err());
    }
}
