//! Why a delivery failed, in the bounce vocabulary of Sisimai (its 36 reason
//! names, listed in `shared/corpora/README.md`), and the RFC 3463 enhanced
//! status codes that usually say so.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! reasons {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// A bounce reason, named as Sisimai names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $(#[doc = $doc] $variant,)*
        }

        impl Reason {
            /// Every reason.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The stable name.
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name,)* }
            }
        }
    };
}

reasons! {
    AuthFailure => "authfailure": "SPF, DKIM or DMARC failed at the receiver.",
    BadReputation => "badreputation": "The sending IP or domain has a poor reputation.",
    Blocked => "blocked": "The sending IP is blocked (blocklist, no rDNS, rate policy).",
    ContentError => "contenterror": "The content was refused (headers, encoding).",
    Delivered => "delivered": "Not a failure: delivered.",
    ExceedLimit => "exceedlimit": "The message exceeds the recipient's limit.",
    Expired => "expired": "Delivery kept failing temporarily until the retry window closed.",
    FailedStartTls => "failedstarttls": "STARTTLS was required and failed.",
    Feedback => "feedback": "A complaint (ARF feedback report).",
    Filtered => "filtered": "Refused by a recipient-side filter.",
    HasMoved => "hasmoved": "The recipient has moved to another address.",
    HostUnknown => "hostunknown": "The recipient's domain does not exist or has no mail server.",
    MailboxFull => "mailboxfull": "The recipient's mailbox is full.",
    MailerError => "mailererror": "The receiving mailer program failed.",
    MesgTooBig => "mesgtoobig": "The message is too big.",
    NetworkError => "networkerror": "A network or DNS error.",
    NoRelaying => "norelaying": "Relaying was refused.",
    NotAccept => "notaccept": "The domain accepts no mail (null MX).",
    NotCompliantRfc => "notcompliantrfc": "The message does not comply with the RFCs.",
    OnHold => "onhold": "Held: the reason could not be decided.",
    PolicyViolation => "policyviolation": "Refused by the receiver's policy.",
    Rejected => "rejected": "The sender (envelope from) was rejected.",
    RequirePtr => "requireptr": "The sending IP has no PTR record.",
    SecurityError => "securityerror": "A security error (authentication, virus policy).",
    SpamDetected => "spamdetected": "The message was judged to be spam.",
    Speeding => "speeding": "Too many messages too fast: rate-limited.",
    Suppressed => "suppressed": "Not sent: the address is on the suppression list.",
    Suspend => "suspend": "The recipient's mailbox is suspended or disabled.",
    SyntaxError => "syntaxerror": "An SMTP syntax error.",
    SystemError => "systemerror": "A system error at the receiver.",
    SystemFull => "systemfull": "The receiving system is out of space.",
    TooManyConn => "toomanyconn": "Too many connections.",
    Undefined => "undefined": "The reason could not be decided.",
    UserUnknown => "userunknown": "The recipient's mailbox does not exist.",
    Vacation => "vacation": "An automatic vacation reply.",
    VirusDetected => "virusdetected": "A virus was found in the message.",
}

impl Reason {
    /// Whether this reason means the address itself will keep failing
    /// (a hard bounce), so that it belongs on the suppression list.
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            Self::UserUnknown | Self::HostUnknown | Self::HasMoved | Self::NotAccept
        )
    }

    /// Picks a reason from an SMTP reply: the enhanced status first
    /// (RFC 3463 section 3), then well-known wording of the text, then the
    /// basic reply code.
    pub fn from_reply(code: Option<u16>, enhanced: Option<&EnhancedStatus>, text: &str) -> Reason {
        let t = text.to_ascii_lowercase();
        if let Some(r) = from_text(&t) {
            return r;
        }
        if let Some(es) = enhanced
            && let Some(r) = from_enhanced(es)
        {
            return r;
        }
        match code {
            Some(552) => Self::MailboxFull,
            Some(554) => Self::Rejected,
            Some(550..=553) => Self::Rejected,
            Some(421) => Self::TooManyConn,
            Some(452) => Self::SystemFull,
            _ => Self::Undefined,
        }
    }
}

fn from_text(t: &str) -> Option<Reason> {
    const TABLE: &[(&[&str], Reason)] = &[
        (
            &[
                "user unknown",
                "unknown user",
                "no such user",
                "mailbox not found",
                "does not exist",
                "recipient not found",
                "unknown recipient",
                "invalid recipient",
                "no mailbox",
                "address rejected: user unknown",
                "mailbox unavailable",
                "undeliverable address",
            ],
            Reason::UserUnknown,
        ),
        (
            &[
                "mailbox full",
                "mailbox is full",
                "over quota",
                "quota exceeded",
                "exceeded storage",
                "insufficient storage",
            ],
            Reason::MailboxFull,
        ),
        (
            &[
                "host not found",
                "domain not found",
                "no mx",
                "name or service not known",
                "host unknown",
                "unrouteable",
                "nxdomain",
            ],
            Reason::HostUnknown,
        ),
        (
            &[
                "blocklist",
                "blacklist",
                "block list",
                "spamhaus",
                "spamcop",
                "dnsbl",
                "listed at",
                "client host blocked",
            ],
            Reason::Blocked,
        ),
        (
            &["spam", "blocked as bulk", "content rejected"],
            Reason::SpamDetected,
        ),
        (&["virus", "malware"], Reason::VirusDetected),
        (
            &["too large", "too big", "size limit", "message size exceeds"],
            Reason::MesgTooBig,
        ),
        (
            &[
                "relay access denied",
                "relaying denied",
                "not permitted to relay",
                "relay not permitted",
            ],
            Reason::NoRelaying,
        ),
        (&["blocked"], Reason::Blocked),
        (
            &["spf", "dkim", "dmarc", "authentication required"],
            Reason::AuthFailure,
        ),
        (
            &[
                "rate limit",
                "too many messages",
                "try again later",
                "throttl",
            ],
            Reason::Speeding,
        ),
        (
            &["disabled", "suspended", "inactive", "deactivated"],
            Reason::Suspend,
        ),
        (&["policy"], Reason::PolicyViolation),
    ];
    TABLE
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| t.contains(n)))
        .map(|(_, r)| *r)
}

/// RFC 3463 section 3: subject and detail codes.
fn from_enhanced(es: &EnhancedStatus) -> Option<Reason> {
    Some(match (es.subject, es.detail) {
        (1, 1) | (1, 0) | (1, 6) => {
            if es.detail == 6 {
                Reason::HasMoved
            } else {
                Reason::UserUnknown
            }
        }
        (1, 2) => Reason::HostUnknown,
        (1, 3) => Reason::SyntaxError,
        (1, 8) | (1, 7) => Reason::Rejected,
        (1, 10) => Reason::NotAccept,
        (2, 1) => Reason::Suspend,
        (2, 2) => Reason::MailboxFull,
        (2, 3) => Reason::MesgTooBig,
        (2, 4) => Reason::MailerError,
        (3, 1) => Reason::SystemFull,
        (3, 4) => Reason::MesgTooBig,
        (3, 0) | (3, 2) | (3, 5) => Reason::SystemError,
        (4, 1) | (4, 2) => Reason::NetworkError,
        (4, 3) => Reason::SystemError,
        (4, 4) => Reason::HostUnknown,
        (4, 6) => Reason::NetworkError,
        (4, 7) => Reason::Expired,
        (5, _) => Reason::SyntaxError,
        (6, _) => Reason::ContentError,
        (7, 1) => Reason::Rejected,
        (7, 7) => Reason::PolicyViolation,
        (7, 23) | (7, 24) | (7, 25) | (7, 26) | (7, 27) => Reason::AuthFailure,
        (7, 28) => Reason::SpamDetected,
        (7, 10) | (7, 11) => Reason::FailedStartTls,
        (7, _) => Reason::SecurityError,
        _ => return None,
    })
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the 36 reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An RFC 3463 enhanced status code, `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// What the code is about (1 address, 2 mailbox, 3 mail system, ...).
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedStatus {
    /// Parses `x.y.z` (RFC 3463 section 2: class 2, 4 or 5; subject and
    /// detail of one to three digits).
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.trim().splitn(3, '.');
        let class = it.next()?;
        let subject = it.next()?;
        let detail = it.next()?;
        let ok = |p: &str, max: usize| {
            !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
        };
        if !(ok(class, 1) && ok(subject, 3) && ok(detail, 3)) {
            return None;
        }
        let class: u8 = class.parse().ok()?;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self {
            class,
            subject: subject.parse().ok()?,
            detail: detail.parse().ok()?,
        })
    }

    /// Finds the first enhanced status code at the start of an SMTP reply
    /// text (RFC 2034 section 4), returning it and the rest of the text.
    pub fn split_reply_text(text: &str) -> (Option<Self>, &str) {
        let trimmed = text.trim_start();
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        match Self::parse(&trimmed[..end]) {
            Some(es) => (Some(es), trimmed[end..].trim_start()),
            None => (None, trimmed),
        }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_six_reasons() {
        assert_eq!(Reason::ALL.len(), 36);
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
        }
    }

    #[test]
    fn enhanced_status() {
        assert_eq!(EnhancedStatus::parse("5.1.1").unwrap().to_string(), "5.1.1");
        assert!(EnhancedStatus::parse("3.1.1").is_none());
        assert!(EnhancedStatus::parse("5.1").is_none());
        assert!(EnhancedStatus::parse("5.1.1111").is_none());
        let (es, rest) =
            EnhancedStatus::split_reply_text("5.1.1 <x@y>: Recipient address rejected");
        assert_eq!(es.unwrap().to_string(), "5.1.1");
        assert_eq!(rest, "<x@y>: Recipient address rejected");
    }

    #[test]
    fn reasons_from_replies() {
        let r = |code, es: &str, text| {
            Reason::from_reply(Some(code), EnhancedStatus::parse(es).as_ref(), text)
        };
        assert_eq!(
            r(
                550,
                "5.1.1",
                "<bob@example.test>: Recipient address rejected: User unknown in virtual mailbox table"
            ),
            Reason::UserUnknown
        );
        assert_eq!(r(552, "5.2.2", "Mailbox full"), Reason::MailboxFull);
        assert_eq!(
            r(550, "5.7.1", "Message rejected as spam"),
            Reason::SpamDetected
        );
        assert_eq!(
            r(
                554,
                "5.7.1",
                "Service unavailable; client host blocked using zen.spamhaus.org"
            ),
            Reason::Blocked
        );
        assert_eq!(
            r(552, "5.3.4", "Message size exceeds fixed limit"),
            Reason::MesgTooBig
        );
        assert_eq!(
            r(550, "5.7.1", "Rejected by policy"),
            Reason::PolicyViolation
        );
        assert_eq!(
            r(550, "5.1.2", "bad destination system"),
            Reason::HostUnknown
        );
        assert_eq!(r(550, "5.7.1", "Sender denied"), Reason::Rejected);
        assert!(Reason::UserUnknown.is_hard());
        assert!(!Reason::MailboxFull.is_hard());
    }
}
