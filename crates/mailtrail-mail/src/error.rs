//! The one error type of this crate (DESIGN.md section 6).

/// Why a message could not be composed or signed.
///
/// Every variant names the offending header, field or key so that the API
/// can turn it into a 400 that tells the caller exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// A header name is empty, too long, or uses a character that RFC 5322
    /// section 2.2 does not allow in a field name (printable US-ASCII other
    /// than the colon).
    #[error(
        "header name {name:?} is not valid: it must be 1 to 76 printable ASCII characters without a colon (RFC 5322 section 2.2)"
    )]
    InvalidHeaderName {
        /// The name as given (possibly truncated for display by the caller).
        name: String,
    },
    /// A header value contains CR or LF (header injection) or another control
    /// character that RFC 5322 section 2.2 forbids in a field body.
    #[error("header {name} contains a line break or control character")]
    HeaderInjection {
        /// The header whose value was refused.
        name: String,
    },
    /// A header value has a word so long that the header cannot be folded
    /// into lines of at most 998 octets (RFC 5322 section 2.1.1).
    #[error("header {name} has a word too long to fit in a 998-octet line")]
    HeaderTooLong {
        /// The header whose value was refused.
        name: String,
    },
    /// The header is one that mailtrail writes itself; letting the caller set
    /// it would duplicate it or break tracking, threading or signing.
    #[error("header {name} is set by mailtrail and cannot be given as an extra header")]
    ReservedHeader {
        /// The header as the caller spelled it.
        name: String,
    },
    /// An attachment's content type is not `type/subtype[; param=value]`
    /// (RFC 2045 section 5.1).
    #[error("attachment {filename:?} has an invalid content type {content_type:?}")]
    InvalidContentType {
        /// The attachment's file name.
        filename: String,
        /// The content type as given.
        content_type: String,
    },
    /// A List-Unsubscribe URL is not a `mailto:` / `https://` URL that can be
    /// written between angle brackets (RFC 2369 section 2, RFC 8058 section 3.1).
    #[error("invalid List-Unsubscribe {kind} URL {url:?}")]
    InvalidUnsubscribeUrl {
        /// `mailto` or `https`.
        kind: &'static str,
        /// The URL as given.
        url: String,
    },
    /// The DKIM private key could not be read.
    #[error("invalid DKIM private key: {0}")]
    InvalidKey(String),
    /// The DKIM domain or selector is not a usable DNS label sequence.
    #[error("invalid DKIM {what}: {value:?}")]
    InvalidDkimName {
        /// `domain` or `selector`.
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// The HTML rewriter gave up (for example on a memory limit); the copy
    /// can still be sent uninstrumented.
    #[error("HTML instrumentation failed: {0}")]
    Instrument(String),
    /// Signing failed (the message has none of the headers to sign, or the
    /// crypto library refused).
    #[error("DKIM signing failed: {0}")]
    Signing(String),
    /// Writing a built message failed (mail-builder's writer refused).
    #[error("building the message failed: {0}")]
    Build(String),
}
