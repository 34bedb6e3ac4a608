//! Building a person's reply to a message (RFC 5322 sections 3.6.3 to
//! 3.6.5), as a recipient's mail client writes it: to the original's
//! `Reply-To` (or `From`), `In-Reply-To` naming the original's Message-ID,
//! `References` continuing its thread, `Re: ` before the subject.
//!
//! The sandbox inbox uses this to play a recipient who answers; the
//! classifier in [`crate::inbound`] reads what this writes with the `read`
//! submodule.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mailtrail_domain::{EmailAddress, MessageId};
use time::OffsetDateTime;

use crate::MailError;

/// Reading the ids a reply names, for the classifier in [`crate::inbound`].
pub(crate) mod read;

/// The most `References` ids carried forward: a long thread keeps its
/// first and latest ids, as RFC 5322 section 3.6.4 allows trimming.
const MAX_REFERENCES: usize = 20;

/// One reply to build.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    /// Who answers: the reply's `From`.
    pub from: &'a EmailAddress,
    /// Where it goes: the original's `Reply-To`, else its `From` (RFC 5322
    /// section 3.6.3).
    pub to: &'a EmailAddress,
    /// The original's Message-ID: the reply's `In-Reply-To`.
    pub original_message_id: &'a MessageId,
    /// The original's own `References` (oldest first), continued by the
    /// reply.
    pub original_references: &'a [MessageId],
    /// The original's subject.
    pub original_subject: &'a str,
    /// The reply's text.
    pub text: &'a str,
    /// The reply's own Message-ID.
    pub message_id: &'a MessageId,
    /// When it was sent.
    pub date: OffsetDateTime,
}

/// The reply's subject: `Re: ` and the original's, unless it already
/// starts with one (RFC 5322 section 3.6.5 suggests "Re: " once, not
/// "Re: Re: ").
pub fn reply_subject(original: &str) -> String {
    let trimmed = original.trim_start();
    if trimmed
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("re:"))
    {
        trimmed.to_owned()
    } else {
        format!("Re: {trimmed}")
    }
}

/// Builds the reply as RFC 5322 bytes with CRLF line ends.
pub fn build(r: &Reply<'_>) -> Result<Vec<u8>, MailError> {
    if r.original_subject.chars().any(char::is_control) {
        return Err(MailError::HeaderInjection {
            name: "Subject".into(),
        });
    }
    // RFC 5322 section 3.6.4: References is the parent's References (or,
    // without one, its In-Reply-To) followed by the parent's Message-ID.
    let mut refs: Vec<&str> = r
        .original_references
        .iter()
        .map(MessageId::as_str)
        .collect();
    if refs.len() >= MAX_REFERENCES {
        let keep_tail = refs.split_off(refs.len() - (MAX_REFERENCES - 2));
        refs.truncate(1);
        refs.extend(keep_tail);
    }
    refs.push(r.original_message_id.as_str());
    MessageBuilder::new()
        .from(Address::new_address(None::<&str>, r.from.as_str()))
        .to(Address::new_address(None::<&str>, r.to.as_str()))
        .subject(reply_subject(r.original_subject))
        .date(Date::new(r.date.unix_timestamp()))
        .message_id(r.message_id.as_str())
        .in_reply_to(r.original_message_id.as_str())
        .references(refs)
        .text_body(r.text)
        .write_to_vec()
        .map_err(|e| MailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{Kind, classify};

    #[test]
    fn a_built_reply_classifies_as_a_reply_to_the_original() {
        let from = EmailAddress::parse("bob@recipient.test").unwrap();
        let to = EmailAddress::parse("ann@sender.test").unwrap();
        let original = MessageId::parse("orig1@sender.test").unwrap();
        let earlier = [MessageId::parse("root@sender.test").unwrap()];
        let own = MessageId::parse("r1@recipient.test").unwrap();
        let raw = build(&Reply {
            from: &from,
            to: &to,
            original_message_id: &original,
            original_references: &earlier,
            original_subject: "Quarterly figures",
            text: "Thanks, that works for me.\r\n",
            message_id: &own,
            date: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        })
        .unwrap();
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(
            text.contains("In-Reply-To: <orig1@sender.test>\r\n"),
            "{text}"
        );
        assert!(text.contains("References: <root@sender.test> <orig1@sender.test>"));
        assert!(text.contains("Subject: Re: Quarterly figures\r\n"));

        let c = classify(&raw);
        assert_eq!(c.kind, Kind::Reply);
        assert_eq!(c.from.as_deref(), Some("bob@recipient.test"));
        assert_eq!(c.in_reply_to[0], "orig1@sender.test");
        assert!(c.in_reply_to.contains(&"root@sender.test".to_owned()));
    }

    #[test]
    fn subjects_get_one_re_and_long_threads_are_trimmed() {
        assert_eq!(reply_subject("Hello"), "Re: Hello");
        assert_eq!(reply_subject("RE: Hello"), "RE: Hello");
        assert_eq!(reply_subject(""), "Re: ");
        let from = EmailAddress::parse("b@x.test").unwrap();
        let ids: Vec<MessageId> = (0..50)
            .map(|i| MessageId::parse(&format!("m{i}@x.test")).unwrap())
            .collect();
        let original = MessageId::parse("last@x.test").unwrap();
        let raw = build(&Reply {
            from: &from,
            to: &from,
            original_message_id: &original,
            original_references: &ids,
            original_subject: "Thread",
            text: "ok",
            message_id: &original,
            date: OffsetDateTime::UNIX_EPOCH,
        })
        .unwrap();
        let c = classify(&raw);
        // In-Reply-To, then the trimmed References: first, last 18, parent.
        assert!(c.in_reply_to.contains(&"m0@x.test".to_owned()));
        assert!(c.in_reply_to.contains(&"m49@x.test".to_owned()));
        assert!(!c.in_reply_to.contains(&"m10@x.test".to_owned()));
    }
}
