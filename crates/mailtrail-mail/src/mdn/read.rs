//! Read receipts: RFC 8098 (formerly RFC 3798) message disposition
//! notifications, and the non-standard receipts some clients send instead.
//!
//! Section 3.2.6: `Disposition: action-mode/sending-mode; disposition-type`,
//! e.g. `manual-action/MDN-sent-manually; displayed`. The disposition types
//! are displayed, deleted, dispatched, processed (section 3.2.6.2), and
//! RFC 3798's obsolete denied and failed are still met in the wild.

use crate::dsn::read::message_id;
use crate::inbound::fields;

/// A parsed `message/disposition-notification` part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Mdn {
    /// The disposition type, lower-cased (`displayed`, `deleted`, ...).
    pub disposition: Option<String>,
    /// `manual-action/MDN-sent-manually`, as written.
    pub mode: Option<String>,
    pub original_message_id: Option<String>,
    pub final_recipient: Option<String>,
}

/// Parses the fields of a disposition-notification part (section 3.1).
pub(crate) fn parse(text: &str) -> Mdn {
    let mut mdn = Mdn::default();
    for group in fields::groups(text) {
        if let Some(v) = fields::get(&group, "disposition") {
            let (mode, kind) = v.split_once(';').unwrap_or(("", v));
            let kind = kind
                .trim()
                .split(['/', ' ', '('])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !kind.is_empty() {
                mdn.disposition.get_or_insert(kind);
            }
            if !mode.trim().is_empty() {
                mdn.mode.get_or_insert_with(|| mode.trim().to_owned());
            }
        }
        if let Some(v) = fields::get(&group, "original-message-id")
            && mdn.original_message_id.is_none()
        {
            mdn.original_message_id = message_id(v);
        }
        if let Some(v) = fields::get(&group, "final-recipient")
            && mdn.final_recipient.is_none()
        {
            mdn.final_recipient = fields::typed_address(v);
        }
    }
    mdn
}

/// Subjects of the receipts that Outlook, Exchange and others send as plain
/// messages (no MDN part), in the languages they ship in.
const RECEIPT_SUBJECTS: &[&str] = &[
    "read:",
    "gelesen:",
    "lu :",
    "lu:",
    "leído:",
    "leido:",
    "letto:",
    "gelezen:",
    "lido:",
    "read report:",
    "read receipt:",
    "return receipt",
    "lesebestätigung",
    "accusé de lecture",
    "confirmación de lectura",
    "leesbevestiging",
    "開封済み:",
];

/// Body phrases that such receipts carry.
const RECEIPT_BODIES: &[&str] = &[
    "was read on",
    "your message was read",
    "was displayed on",
    "wurde am",
    "a été lu le",
    "fue leído el",
    "fue leido el",
    "è stato letto",
    "is gelezen op",
    "foi lida em",
    "this is a receipt for the mail you sent",
    "return receipt",
];

/// Whether a message without an MDN part is a client's own read receipt: a
/// receipt subject and receipt wording in the body, both required, so that a
/// person's reply titled "Read: ..." is not mistaken for one.
pub(crate) fn is_informal_receipt(subject: &str, body: &str) -> bool {
    let s = subject.trim_start().to_lowercase();
    let b = body.to_lowercase();
    RECEIPT_SUBJECTS.iter().any(|p| s.starts_with(p))
        && RECEIPT_BODIES.iter().any(|p| b.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mdn_fields() {
        let m = parse(
            "Reporting-UA: mail.example.com; Thunderbird\r\n\
             Final-Recipient: rfc822;bob@example.com\r\n\
             Original-Message-ID: <m1@mailtrail.example>\r\n\
             Disposition: manual-action/MDN-sent-manually; displayed\r\n",
        );
        assert_eq!(m.disposition.as_deref(), Some("displayed"));
        assert_eq!(m.mode.as_deref(), Some("manual-action/MDN-sent-manually"));
        assert_eq!(
            m.original_message_id.as_deref(),
            Some("m1@mailtrail.example")
        );
        assert_eq!(m.final_recipient.as_deref(), Some("bob@example.com"));
    }

    #[test]
    fn informal_receipts_need_both_signs() {
        assert!(is_informal_receipt(
            "Read: Quarterly plan",
            "Your message\n  To: bob\nwas read on Monday."
        ));
        assert!(!is_informal_receipt(
            "Read: Quarterly plan",
            "I read it, thanks!"
        ));
        assert!(!is_informal_receipt("Quarterly plan", "was read on Monday"));
    }
}
