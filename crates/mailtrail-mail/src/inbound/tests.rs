//! Whole-message tests of [`classify`], one small inline message per kind,
//! and a property test that arbitrary bytes never panic.

use super::*;
use proptest::prelude::*;

const POSTFIX_DSN: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r
To: bounces+tok123@mailtrail.example\r
Subject: Undelivered Mail Returned to Sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r
\r
--B\r
Content-Type: text/plain\r
\r
This is the mail system at host mx.example.org.\r
\r
<bob@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1\r
    <bob@example.com>: Recipient address rejected: User unknown\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.org\r
\r
Final-Recipient: rfc822; bob@example.com\r
Action: failed\r
Status: 5.1.1\r
Remote-MTA: dns; mx.example.com\r
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address\r
    rejected: User unknown in virtual mailbox table\r
--B\r
Content-Type: text/rfc822-headers\r
\r
From: alice@mailtrail.example\r
To: bob@example.com\r
Message-ID: <orig-1@mailtrail.example>\r
--B--\r
";

/// A local part with a multi-byte character where `bounces+` would end is
/// no VERP address, and reading it must not cut the character.
#[test]
fn multibyte_local_part_is_no_verp_token() {
    let raw = POSTFIX_DSN.replace(
        "To: bounces+tok123@mailtrail.example",
        "To: bounce\u{e9}+x+tok@mailtrail.example",
    );
    assert_eq!(classify(raw.as_bytes()).verp_token, None);
}

#[test]
fn dsn_bounce() {
    let c = classify(POSTFIX_DSN.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.verp_token.as_deref(), Some("tok123"));
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("orig-1@mailtrail.example")
    );
    assert_eq!(c.recipients.len(), 1);
    let r = &c.recipients[0];
    assert_eq!(r.address.as_deref(), Some("bob@example.com"));
    assert_eq!(r.action, Some(Action::Failed));
    assert_eq!(r.status.as_deref(), Some("5.1.1"));
    assert_eq!(r.reply_code.as_deref(), Some("550"));
    assert_eq!(r.reason, Reason::UserUnknown);
    assert!(r.hard);
    assert_eq!(r.remote_mta.as_deref(), Some("mx.example.com"));
}

#[test]
fn cr_only_and_lf_only_copies_read_the_same() {
    let crlf = classify(POSTFIX_DSN.as_bytes());
    let lf = classify(POSTFIX_DSN.replace("\r\n", "\n").as_bytes());
    let cr = classify(POSTFIX_DSN.replace("\r\n", "\r").as_bytes());
    assert_eq!(crlf, lf);
    assert_eq!(crlf, cr);
}

#[test]
fn delay_and_success_reports() {
    let delayed = POSTFIX_DSN
        .replace("Action: failed", "Action: delayed")
        .replace("Status: 5.1.1", "Status: 4.4.1")
        .replace("550 5.1.1", "connect timed out");
    let c = classify(delayed.as_bytes());
    assert_eq!(c.kind, Kind::Delay);
    assert!(!c.recipients[0].hard);
    let ok = POSTFIX_DSN
        .replace("Action: failed", "Action: delivered")
        .replace("Status: 5.1.1", "Status: 2.0.0");
    let c = classify(ok.as_bytes());
    assert_eq!(c.kind, Kind::DeliveryReport);
    assert_eq!(c.recipients[0].reason, Reason::Delivered);
}

#[test]
fn json_contract() {
    let c = classify(POSTFIX_DSN.as_bytes());
    // serde's own data model, without a JSON crate: field names and order.
    let r = &c.recipients[0];
    assert_eq!(format!("{:?}", r.action), "Some(Failed)");
    assert_eq!(Reason::UserUnknown.as_str(), "userunknown");
    let kinds = [
        (Kind::Bounce, "bounce"),
        (Kind::Delay, "delay"),
        (Kind::DeliveryReport, "delivery_report"),
        (Kind::ReadReceipt, "read_receipt"),
        (Kind::Complaint, "complaint"),
        (Kind::Reply, "reply"),
        (Kind::AutoReply, "auto_reply"),
        (Kind::Other, "other"),
    ];
    for (k, name) in kinds {
        assert_eq!(serde_name(&k), name);
    }
}

/// The name serde gives a unit variant, read through a minimal serializer.
fn serde_name<T: Serialize>(v: &T) -> String {
    struct Name(String);
    impl serde::Serializer for &mut Name {
        type Ok = ();
        type Error = serde::de::value::Error;
        type SerializeSeq = serde::ser::Impossible<(), Self::Error>;
        type SerializeTuple = serde::ser::Impossible<(), Self::Error>;
        type SerializeTupleStruct = serde::ser::Impossible<(), Self::Error>;
        type SerializeTupleVariant = serde::ser::Impossible<(), Self::Error>;
        type SerializeMap = serde::ser::Impossible<(), Self::Error>;
        type SerializeStruct = serde::ser::Impossible<(), Self::Error>;
        type SerializeStructVariant = serde::ser::Impossible<(), Self::Error>;
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            v: &'static str,
        ) -> Result<(), Self::Error> {
            self.0 = v.to_owned();
            Ok(())
        }
        fn serialize_str(self, v: &str) -> Result<(), Self::Error> {
            self.0 = v.to_owned();
            Ok(())
        }
        fn serialize_bool(self, _: bool) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_i8(self, _: i8) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_i16(self, _: i16) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_i32(self, _: i32) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_i64(self, _: i64) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_u8(self, _: u8) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_u16(self, _: u16) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_u32(self, _: u32) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_u64(self, _: u64) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_f32(self, _: f32) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_f64(self, _: f64) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_char(self, _: char) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_none(self) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_unit(self) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Self::Error> {
            Err(serde::ser::Error::custom("x"))
        }
    }
    let mut n = Name(String::new());
    v.serialize(&mut n).map(|_| n.0).unwrap_or_default()
}

#[test]
fn mdn_read_receipt() {
    let m = "From: bob@example.com\r\nTo: alice@mailtrail.example\r\nSubject: Read: plan\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=\"M\"\r\n\r\n\
--M\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n\
--M\r\nContent-Type: message/disposition-notification\r\n\r\n\
Reporting-UA: example.com; Thunderbird\r\nFinal-Recipient: rfc822;bob@example.com\r\n\
Original-Message-ID: <orig-2@mailtrail.example>\r\n\
Disposition: manual-action/MDN-sent-manually; displayed\r\n--M--\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::ReadReceipt);
    assert_eq!(c.disposition.as_deref(), Some("displayed"));
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("orig-2@mailtrail.example")
    );
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
}

#[test]
fn arf_complaint() {
    let m = "From: fbl@isp.example\r\nTo: abuse@mailtrail.example\r\nSubject: FW: offer\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\
--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\n\
Version: 1\r\nOriginal-Rcpt-To: <carol@isp.example>\r\n\
--F\r\nContent-Type: message/rfc822\r\n\r\nFrom: alice@mailtrail.example\r\nTo: carol@isp.example\r\n\
Message-ID: <orig-3@mailtrail.example>\r\nSubject: offer\r\n\r\nbuy\r\n--F--\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("orig-3@mailtrail.example")
    );
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("carol@isp.example")
    );
    assert_eq!(c.recipients[0].reason, Reason::Feedback);
}

#[test]
fn replies_and_auto_replies() {
    let reply = "From: dave@example.com\r\nTo: alice@mailtrail.example\r\nSubject: Re: plan\r\n\
In-Reply-To: <orig-4@mailtrail.example>\r\nReferences: <orig-0@mailtrail.example> <orig-4@mailtrail.example>\r\n\r\nSounds good.\r\n";
    let c = classify(reply.as_bytes());
    assert_eq!(c.kind, Kind::Reply);
    assert_eq!(c.from.as_deref(), Some("dave@example.com"));
    assert_eq!(
        c.in_reply_to,
        vec!["orig-4@mailtrail.example", "orig-0@mailtrail.example"]
    );
    assert!(c.recipients.is_empty());

    let ooo = reply.replace("Subject: Re: plan", "Subject: Automatic reply: plan");
    assert_eq!(classify(ooo.as_bytes()).kind, Kind::AutoReply);
    let submitted = reply.replace(
        "Subject: Re: plan",
        "Subject: Re: plan\r\nAuto-Submitted: auto-replied",
    );
    let c = classify(submitted.as_bytes());
    assert_eq!(c.kind, Kind::AutoReply);
    assert_eq!(c.recipients[0].reason, Reason::Vacation);
}

#[test]
fn plain_mail_is_other_and_never_a_bounce() {
    let m = "From: erin@example.com\r\nTo: alice@mailtrail.example\r\nSubject: undeliverable ideas\r\n\r\n\
Our message could not be delivered in time, sorry about that.\r\nbob@example.com: call me\r\n";
    assert_eq!(classify(m.as_bytes()).kind, Kind::Other);
    assert_eq!(classify(b"").kind, Kind::Other);
    assert_eq!(classify(b"garbage without headers").kind, Kind::Other);
}

#[test]
fn qmail_text_bounce() {
    let m = "From: MAILER-DAEMON@mx.example.jp\nTo: alice@mailtrail.example\nSubject: failure notice\n\n\
Hi. This is the qmail-send program at mx.example.jp.\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\n\
This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
<bob@example.net>:\nRemote host said: 550 5.1.1 <bob@example.net>... User Unknown\n\n\
--- Below this line is a copy of the message.\n\nFrom: alice@mailtrail.example\nMessage-ID: <q@x>\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.net"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
    assert_eq!(c.recipients[0].status.as_deref(), Some("5.1.1"));
}

/// The first field of each name the classifier reads at the top level is
/// found whatever the case of its name, and whether mail-parser knows the
/// name (`From`, `Auto-Submitted`) or not (`X-Autoreply`).
#[test]
fn top_headers_find_the_first_field_of_each_name() {
    const NAMES: [&str; TOP_HEADERS] = [
        "from",
        "in-reply-to",
        "references",
        "x-apple-unsubscribe",
        "return-path",
        "precedence",
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-auto-response-suppress-reply",
        "x-mailer-autoreply",
        "x-ms-exchange-inbox-rules-loop",
        "x-ms-exchange-generated-message-source",
        "to",
        "x-failed-recipients",
        "x-mlserver",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-to",
        "x-mailer",
    ];
    let mut slots: Vec<usize> = NAMES
        .iter()
        .filter_map(|n| top_slot(n.as_bytes()))
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, (0..TOP_HEADERS).collect::<Vec<_>>(), "one slot each");
    let mut raw = String::new();
    for (k, name) in NAMES.iter().enumerate() {
        let upper = name.to_ascii_uppercase();
        let shown = if k % 2 == 0 { upper.as_str() } else { name };
        raw.push_str(&format!(
            "Received: from x{k}\n{shown}: value {k}\n{name}: later {k}\n"
        ));
    }
    raw.push_str("\nbody\n");
    let parsed = mime::parse(raw.as_bytes()).expect("a message");
    let top = TopHeaders::new(&parsed.msg);
    for (k, name) in NAMES.iter().enumerate() {
        assert_eq!(
            top.get(&parsed.msg, name),
            Some(format!("value {k}")),
            "{name}"
        );
    }
    assert_eq!(top.get(&parsed.msg, "received"), Some("from x0".into()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = classify(&bytes);
    }

    /// The block-wise check finds a lone CR exactly where a search for
    /// every CR and a look at the byte after it does, at any place in a
    /// block and across block edges (inputs mostly CR and LF).
    #[test]
    fn lone_cr_found_as_by_a_plain_search(bytes in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..300)) {
        let plain = bytes.iter().enumerate().any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        prop_assert_eq!(has_lone_cr(&bytes), plain);
    }

    #[test]
    fn mutated_reports_never_panic(cut in 0usize..POSTFIX_DSN.len(), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = POSTFIX_DSN.as_bytes()[..cut].to_vec();
        b.extend_from_slice(&junk);
        b.extend_from_slice(&POSTFIX_DSN.as_bytes()[cut..]);
        let _ = classify(&b);
        let _ = classify(&POSTFIX_DSN.as_bytes()[..cut]);
    }
}

/// A `multipart/report` whose boundary line does not match its header: the
/// RFC 3464 fields are still read from the text.
#[test]
fn dsn_fields_in_text_when_the_boundary_is_lost() {
    let m = "From: MAILER-DAEMON@mx.example.org\n\
Subject: Undelivered Mail Returned to Sender\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"AAA\"\n\
\n\
--BBB\n\
Content-Type: text/plain\n\
\n\
This is the mail system at host mx.example.org.\n\
--BBB\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns; mx.example.org\n\
\n\
Final-Recipient: rfc822; bob@example.com\n\
Action: failed\n\
Status: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist\n\
--BBB--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
    assert!(c.recipients[0].hard);
}

/// A quoted report in a person's message is not a report.
#[test]
fn quoted_dsn_fields_are_not_a_report() {
    let m = "From: alice@example.org\nTo: bob@example.com\nSubject: look at this\n\n\
> Final-Recipient: rfc822; carol@example.com\n> Action: failed\n> Status: 5.1.1\n";
    assert_eq!(classify(m.as_bytes()).kind, Kind::Other);
}

/// Exim's X-Failed-Recipients names the failed address even when the bounce
/// goes back to that same address, and a pipe delivery failure is a mailer
/// error of the address that generated it.
#[test]
fn exim_failed_recipients_header_and_pipe() {
    let m = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n\
To: bob@example.com\n\
X-Failed-Recipients: bob@example.com\n\
Subject: Mail delivery failed: returning message to sender\n\
\n\
This message was created automatically by mail delivery software.\n\
\n\
A message that you sent could not be delivered to one or more of its\n\
recipients. This is a permanent error. The following address(es) failed:\n\
\n\
  pipe to |/usr/local/bin/filter\n\
    generated by bob@example.com\n\
\n\
------ This is a copy of the message, including all the headers. ------\n\
\n\
From: bob@example.com\nTo: bob@example.com\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::MailerError);
    assert!(!c.recipients[0].hard);
}

/// A refusal of MAIL FROM is about the sender: not a hard bounce of the
/// recipient, whatever address status it carries; a bare 551 (RFC 5321
/// section 4.2.2) says the user has moved.
#[test]
fn sender_refusals_and_551() {
    use super::reason::{Context, decide};
    let r = decide(
        "SMTP error from remote mail server after MAIL FROM:<a@example.org>: 550 5.1.7 No such domain",
        "",
        Some("5.1.7"),
        Some("550"),
        Context::Failed,
    );
    assert_eq!(r, Reason::Rejected);
    let r = decide(
        "550 5.1.0 <a@example.org> sender rejected",
        "",
        Some("5.1.0"),
        Some("550"),
        Context::Failed,
    );
    assert_eq!(r, Reason::Rejected);
    assert_eq!(
        decide(
            "551 not our customer",
            "",
            None,
            Some("551"),
            Context::Failed
        ),
        Reason::HasMoved
    );
}

/// Mimecast lists the failed address after "-- "; its 5.4.1 "Access
/// denied" is Exchange Online's directory lookup: the user is unknown.
#[test]
fn mimecast_notice_with_a_dash_bullet() {
    let m = "From: \"postmaster\" <postmaster@mx.example.org>\n\
To: <alice@example.org>\n\
Subject: [Postmaster] Email Delivery Failure\n\
\n\
An email that you attempted to send to the following address could not be delivered:\n\
-- bob@example.com\n\
\n\
The problem appears to be :\n\
-- Recipient email address is possibly incorrect\n\
\n\
Additional information follows :\n\
-- 5.4.1 Recipient address rejected: Access denied.\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
}

/// The remote server's own code in the Diagnostic-Code beats the reporting
/// MTA's Status of the same class, and a named block list is a block even
/// with an address status.
#[test]
fn diagnostic_status_and_block_lists() {
    let m = "From: MAILER-DAEMON@mx.example.org\n\
Subject: Returned mail: see transcript for details\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\
\n\
--B\n\
Content-Type: text/plain\n\
\n\
The original message was received at Thu, 1 Jan 2026 00:00:00 +0000\n\
--B\n\
Content-Type: message/delivery-status\n\
\n\
Final-Recipient: rfc822; bob@example.com\n\
Action: failed\n\
Status: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.7.1 IP address blacklisted by recipient\n\
\n\
Final-Recipient: rfc822; carol@example.com\n\
Action: failed\n\
Status: 5.1.3\n\
Diagnostic-Code: smtp; 553 http://www.spamhaus.org/query/bl?ip=192.0.2.1\n\
--B--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.recipients.len(), 2);
    assert_eq!(c.recipients[0].status.as_deref(), Some("5.7.1"));
    assert_eq!(c.recipients[0].reason, Reason::Blocked);
    assert_eq!(c.recipients[1].reason, Reason::Blocked);
    assert!(!c.recipients[1].hard);
}

/// A gateway that forwards a mail server's DSN as an attached message: the
/// attached report is read.
#[test]
fn forwarded_dsn_is_read() {
    let m = "From: MAILER-DAEMON@gw.example.org\n\
Subject: Returned mail\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"O\"\n\
\n\
--O\n\
Content-Type: text/plain\n\
\n\
----- The following addresses had permanent delivery errors -----\n\
--O\n\
Content-Type: message/rfc822\n\
\n\
From: MAILER-DAEMON@mx.example.org\n\
Subject: Returned mail: User unknown\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"I\"\n\
\n\
--I\n\
Content-Type: message/delivery-status\n\
\n\
Final-Recipient: rfc822; bob@example.com\n\
Action: failed\n\
Status: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\
--I--\n\
--O--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
}

/// The address the sender gave (Original-Recipient, RFC 3464 section
/// 2.3.1) is the one reported, also when Action and Status come first.
#[test]
fn original_recipient_is_the_address_sent_to() {
    let m = "From: MAILER-DAEMON@mx.example.org\n\
Subject: Delivery Notification\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\
\n\
--B\n\
Content-Type: text/plain\n\
\n\
Your message cannot be delivered to the following recipients.\n\
--B\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns;mx.example.org\n\
\n\
Action: failed\n\
Status: 5.0.0 (recipient reached disk quota)\n\
Original-recipient: rfc822;bob@example.com\n\
Final-recipient: rfc822;bob@ims-ms-daemon\n\
--B--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::MailboxFull);
}

/// A From header after a `UT` date (an obsolete zone, RFC 5322 section 4.3,
/// after which mail-parser's date parser lost the next field) is read;
/// LSMTP's `Error-for:` names the failed address.
#[test]
fn lsmtp_notice_after_an_obsolete_date_zone() {
    let m = "Date: Sat, 22 Apr 2006 17:14:50 UT\n\
From: \"LSMTP for Windows NT v1.1b\" <postmaster@mail.example.org>\n\
Subject: Undelivered mail\n\
To: list-bounces@example.net\n\
\n\
An error was detected while processing the enclosed message.  A list of\n\
the affected recipient follows.\n\
\n\
--> Error description:\n\
Error-for:  bob@example.com\n\
Error-Code: 0\n\
Error-Text: Mailer mail.example.com said: 550 unknown user\n\
\n\
Error-End:  One error reported.\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.com"));
}

/// A message declared `multipart/report; report-type=delivery-status`
/// (RFC 6522) is a bounce even without a From and with an unreadable
/// status part.
#[test]
fn declared_report_with_a_broken_status_part() {
    let m = "Subject: Utilisateur inconnu\n\
To: list-bounces@example.net\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\
\n\
--B\n\
Content-Type: text/plain\n\
\n\
A message could not be delivered to:\n\
bob@example.fr\n\
--B--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.fr"));
}

/// Wording that names a more precise reason than the broad words around it.
#[test]
fn precise_wording_beats_broad_words() {
    use super::reason::{Context, decide};
    let d = |t: &str, s: Option<&str>, c: Option<&str>| decide(t, "", s, c, Context::Failed);
    assert_eq!(
        d(
            "550-5.7.1 Messages with multiple addresses in From: header are not accepted",
            Some("5.7.1"),
            Some("550")
        ),
        Reason::NotCompliantRfc
    );
    assert_eq!(
        d(
            "550 Ip frequency limited [x Blocked IP 192.0.2.22]",
            Some("5.0.0"),
            Some("550")
        ),
        Reason::TooManyConn
    );
    assert_eq!(
        d(
            "550 domain [example.com] mismatches client ip 192.0.2.1.",
            Some("5.5.0"),
            Some("550")
        ),
        Reason::RequirePtr
    );
    assert_eq!(
        d(
            "host mx.example.net[192.0.2.1] refused to talk to me: 421 Service not available",
            Some("4.0.0"),
            Some("421")
        ),
        Reason::Blocked
    );
    assert_eq!(
        d(
            "550-5.2.1 The user you are trying to contact is receiving mail at a rate that 550-5.2.1 prevents additional messages from being delivered",
            Some("5.2.1"),
            Some("550")
        ),
        Reason::Speeding
    );
    assert_eq!(
        d(
            "554 5.4.6 Hop count exceeded - possible mail loop",
            Some("5.4.6"),
            Some("554")
        ),
        Reason::NetworkError
    );
    assert_eq!(
        d(
            "550-5.7.1 This message does not have authentication information or fails to pass",
            Some("5.7.1"),
            Some("550")
        ),
        Reason::AuthFailure
    );
    assert_eq!(
        d("User mailbox exceeds allowed size", None, None),
        Reason::MailboxFull
    );
}

#[test]
fn arf_with_two_recipients() {
    let m = "From: fbl@isp.example\r\nTo: abuse@mailtrail.example\r\nSubject: report\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\
Original-Rcpt-To: carol@isp.example\r\nOriginal-Rcpt-To: dave@isp.example\r\n\
--F--\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Complaint);
    let got: Vec<_> = c.recipients.iter().map(|r| r.address.as_deref()).collect();
    assert_eq!(
        got,
        vec![Some("carol@isp.example"), Some("dave@isp.example")]
    );
}

#[test]
fn microsoft_jmrp_complaint() {
    let m = "From: staff@hotmail.com\r\nTo: abuse@mailtrail.example\r\n\
Subject: complaint about message from 192.0.2.1\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"J\"\r\n\r\n\
--J\r\nContent-Type: message/rfc822\r\n\r\n\
X-HmXmrOriginalRecipient: carol@outlook.example\r\nFrom: alice@mailtrail.example\r\n\
To: carol@outlook.example\r\nMessage-ID: <orig-9@mailtrail.example>\r\nSubject: hi\r\n\r\nhi\r\n--J--\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("carol@outlook.example")
    );
    // The same copy forwarded under another subject is not a complaint.
    let fwd = m.replace("complaint about message from 192.0.2.1", "look at this");
    assert_ne!(classify(fwd.as_bytes()).kind, Kind::Complaint);
}

#[test]
fn null_return_path_notice_from_a_no_reply_sender() {
    // KDDI's au notice: a "no-reply" sender and a plain subject, but the
    // null reverse-path and a mail system's wording.
    let m = "Return-Path: <>\r\nFrom: no-reply@ezweb.example\r\nTo: <alice@mailtrail.example>\r\n\
Subject: Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"K\"\r\n\r\n\
--K\r\nContent-Type: text/plain\r\n\r\nYour mail sent on: Thu, 29 Apr 2013 00:00:00 +0900\r\n\
     Could not be delivered to: <bob@ezweb.example>\r\n     As their mailbox is full.\r\n\
--K\r\nContent-Type: message/rfc822\r\n\r\nFrom: alice@mailtrail.example\r\nTo: bob@ezweb.example\r\n\
Subject: hi\r\n\r\nhi\r\n--K--\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("bob@ezweb.example")
    );
    assert_eq!(c.recipients[0].reason, Reason::MailboxFull);
    // Without the null reverse-path it stays a plain message.
    let c = classify(m.replace("Return-Path: <>\r\n", "").as_bytes());
    assert_ne!(c.kind, Kind::Bounce);
}

#[test]
fn mms_gateway_notice_with_an_inline_copy() {
    // Verizon's MMS gateway: an "NDR Administrator", the original's
    // headers quoted as text after "Original Message:".
    let m = "From:MMSC NDR Administrator <sysadmin@mms.example>\r\nTo:alice@mailtrail.example\r\n\
Subject:Undeliverable Message\r\n\r\nMessage could not be delivered to mobile.\r\n\
Error: No valid recipients for this MM\r\n\r\n\r\nOriginal Message:\r\n\
From: Alice <alice@mailtrail.example>\r\nTo: 5550100@mms.example\r\nSubject: hi\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("5550100@mms.example")
    );
    // A list's copy names the list in To, not the member that failed.
    let list = m.replace("Subject: hi\r\n", "Subject: hi\r\nList-Id: <l.example>\r\n");
    assert!(classify(list.as_bytes()).recipients.is_empty());
}

#[test]
fn post_master_notice_with_message_details() {
    let m = "From: post_master@vtext.example\r\nTo: alice@mailtrail.example\r\n\
In-Reply-To: <orig@mailtrail.example>\r\nSubject: Re:hi\r\n\r\n\
Error: Invalid user address\r\n\r\nError message below:\r\n\
550 - Requested action not taken: no such user here\r\n\r\nMessage details:\r\n\
  MAIL FROM: alice@mailtrail.example\r\n  RCPT TO: 5550100@vtext.example\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("5550100@vtext.example")
    );
}

#[test]
fn wording_of_relays_domains_lists_and_local_agents() {
    use super::reason::{Context, decide};
    let d = |t: &str, s: Option<&str>, c: Option<&str>| decide(t, "", s, c, Context::Failed);
    assert_eq!(
        d(
            "550 5.7.0 <bob@example.net>: Recipient address rejected: No relaying",
            Some("5.7.0"),
            Some("550")
        ),
        Reason::NoRelaying
    );
    assert_eq!(
        d(
            "SMTP error from remote mail server after end of data: 553 mx.example.net does not exist",
            None,
            Some("553")
        ),
        Reason::HostUnknown
    );
    // A mailbox that does not exist stays an unknown user.
    assert_eq!(
        d(
            "after RCPT TO:<bob@example.net>: 550 mailbox bob does not exist",
            None,
            Some("550")
        ),
        Reason::UserUnknown
    );
    assert_eq!(
        d("mail.local: unknown user: bob", Some("5.5.0"), None),
        Reason::UserUnknown
    );
    assert_eq!(
        d("Invalid final delivery userid: bob@example.net", None, None),
        Reason::UserUnknown
    );
    assert_eq!(
        d(
            "Error, ERROR_CODE :421, Host not reachable.",
            None,
            Some("421")
        ),
        Reason::Expired
    );
    assert_eq!(
        d(
            "You are not a member of this mailing list <l@example.org>.",
            None,
            None
        ),
        Reason::Rejected
    );
    assert_eq!(
        d("Duplicated Message-ID in <l@example.org>.", None, None),
        Reason::SystemError
    );
}

#[test]
fn zoho_status_list() {
    let m = "From: mailer-daemon@mail.zoho.example\r\nTo: alice@mailtrail.example\r\n\
Subject: Mail Delivery Status Notification (Delay)\r\n\r\n\
This message was created automatically by mail delivery system.\r\n\r\nTHIS IS A WARNING MESSAGE ONLY.\r\n\r\n\
----- The following addresses had fatal errors -----\r\n\
[Status: Error, Address: <bob@example.net>, ResponseCode 421, , Host not reachable.]\r\n\r\n\
Message will be retried for 4 more day(s)\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Delay);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.net"));
    assert_eq!(c.recipients[0].reason, Reason::Expired);
}

#[test]
fn fml_refusal_and_loop_notices() {
    let m = "From: list-admin@example.org\r\nTo: alice@mailtrail.example\r\n\
Subject: You alice@mailtrail.example are not member (list ML)\r\n\
Message-ID: <200504292334.FMLFFFFFF0.list@example.org>\r\n\
X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\r\n\r\n\
You are not a member of this mailing list <list@example.org>.\r\n\r\n\
If you know the general guide of this list, please send mail.\r\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].address.as_deref(), Some("list@example.org"));
    assert_eq!(c.recipients[0].reason, Reason::Rejected);
    // A post relayed by fml (no fml notice Message-ID) is no bounce.
    let post = m.replace("FMLFFFFFF0.", "x.");
    assert_ne!(classify(post.as_bytes()).kind, Kind::Bounce);
}

const POSTFIX_NOTICE: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n\
To: alice@mailtrail.example\nSubject: Undelivered Mail Returned to Sender\n\
MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"P\"\n\n\
--P\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n\
<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 User unknown (in\n    reply to RCPT TO command)\n\n\
--P\nContent-Type: message/rfc822\n\nFrom: alice@mailtrail.example\nTo: bob@example.net\nSubject: hi\n\nhi\n--P--\n";

#[test]
fn every_bounce_of_an_mbox_file() {
    let second = POSTFIX_NOTICE.replace("bob@example.net", "carol@example.net");
    let mbox = format!(
        "From MAILER-DAEMON  Thu Jul  2 12:05:05 2020\n{POSTFIX_NOTICE}\
         From MAILER-DAEMON  Thu Jul  2 12:06:00 2020\n{second}"
    );
    let c = classify(mbox.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    let got: Vec<_> = c.recipients.iter().map(|r| r.address.as_deref()).collect();
    assert_eq!(
        got,
        vec![Some("bob@example.net"), Some("carol@example.net")]
    );
    // "From " starting a line of body text is not a separator.
    let text =
        format!("From MAILER-DAEMON  Thu Jul  2 12:05:05 2020\n{POSTFIX_NOTICE}From here on\n");
    assert_eq!(classify(text.as_bytes()).recipients.len(), 1);
}

#[test]
fn message_to_ones_own_other_address() {
    // The returned copy was sent by bob to himself: its sender is the
    // failed recipient.
    let m = POSTFIX_NOTICE.replace(
        "From: alice@mailtrail.example\nTo: bob",
        "From: bob@example.net\nTo: bob",
    );
    let c = classify(m.as_bytes());
    assert_eq!(c.recipients.len(), 1);
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.net"));
}

/// The failed addresses `classify` reads from a notice.
fn failed(m: &str) -> Vec<String> {
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Bounce, "{m}");
    c.recipients
        .iter()
        .filter_map(|r| r.address.clone())
        .collect()
}

#[test]
fn notices_that_name_the_address_in_a_sentence() {
    let head = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n\
To: alice@mailtrail.example\nSubject: Mail delivery failure\n\n";
    assert_eq!(
        failed(&format!(
            "{head}The following message, addressed to 'bob@example.net',\n\
             failed because it has not been collected after 30 days\n"
        )),
        vec!["bob@example.net"]
    );
    let llnl = "From: postmaster@lab.example (Automated response)\nTo: alice@mailtrail.example\n\
Subject: FAILED MAIL to \"bob\" regarding \"hi\"\n\n\
The address to\nwhich your message was addressed, bob@example.gov, did not exactly match an\n\
address here.\n";
    assert_eq!(failed(llnl), vec!["bob@example.gov"]);
    assert_eq!(
        failed(&format!("{head}undeliverable  to bob@example.net\n")),
        vec!["bob@example.net"]
    );
    assert_eq!(
        failed(&format!(
            "{head}The following recipient(s) could not be reached:\n\n\
             \tRecipient: [SMTP:bob@example.net]\n\tReason: 550 mailbox unavailable\n"
        )),
        vec!["bob@example.net"]
    );
    let ndr = "From: <admin@example.net>\nTo: alice@mailtrail.example\n\
Subject: Non-Delivery: hi\n\n--- Non-Delivery Report ---\n\
The email below could not be delivered to the following user:\n\n\
\"bob@example.net\" <bob@example.net>\n";
    assert_eq!(failed(ndr), vec!["bob@example.net"]);
}

#[test]
fn to_line_of_a_qmail_notice_without_a_copy() {
    // Yahoo's qmail notice names the failed recipient only in the
    // original's To line, quoted before the copy.
    let m = "From: MAILER-DAEMON@yahoo.example\nTo: alice@mailtrail.example\nSubject: failure notice\n\n\
I'm afraid I wasn't able to deliver the following message.\n\
This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
Subject: hi\nTo: bob@yahoo.example\n\n---Below this line is a copy of the message.\n\nhi\n";
    assert_eq!(failed(m), vec!["bob@yahoo.example"]);
}

#[test]
fn mailer_notice_in_another_language_with_a_returned_copy() {
    // Sina's notice: GB2312 words only, but a mailer's sender, a returned
    // copy and the qmail-style address lines.
    let m = "From: MAILER-DAEMON@sina.example\nTo: alice@mailtrail.example\nSubject: x\n\
MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"S\"\n\n\
--S\nContent-Type: text/plain; charset=utf-8\n\n邮件传输失败\n\n<bob@sina.example>:\n<carol@sina.example>:\n\n\
--S\nContent-Type: message/rfc822\n\nFrom: alice@mailtrail.example\nSubject: hi\n\nhi\n--S--\n";
    assert_eq!(failed(m), vec!["bob@sina.example", "carol@sina.example"]);
    // The same from a person is not a bounce.
    let person = m.replace("MAILER-DAEMON@sina.example", "dave@sina.example");
    assert_ne!(classify(person.as_bytes()).kind, Kind::Bounce);
}

#[test]
fn aol_screen_names() {
    let m = "From: \"Mail Delivery Subsystem\" <MAILER-DAEMON@AOL.com>\nTo: alice@mailtrail.example\n\
Subject: Mail Delivery Problem\n\n\
Your mail to the following recipients could not be delivered because they are\n\
not accepting mail from alice@mailtrail.example:\n\tBobScreen\n\n";
    assert_eq!(failed(m), vec!["bobscreen@aol.com"]);
}

#[test]
fn exim_list_names_the_address_the_bounce_returns_to() {
    // alice wrote to herself: the failed address is also the bounce's
    // recipient and the copy's sender, yet Exim lists it as failed.
    let m = "From: Mail Delivery System <mailer-daemon@mx.example.org>\nTo: alice@example.net\n\
Subject: Mail delivery failed: returning message to sender\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of\n\
its recipients. This is a permanent error. The following address(es)\nfailed:\n\n\
alice@example.net:\nSMTP error from remote server for TEXT command, host: mx.example.net reason: 550 5.2.0 Mail rejected\n\n\
--- The header of the original message is following. ---\n\nFrom: <alice@example.net>\nTo: alice@example.com\n";
    assert_eq!(failed(m), vec!["alice@example.net"]);
}

#[test]
fn imail_states_its_own_mailbox_lookup() {
    let m = "From: \"Postmaster\" <postmaster@example.org>\nTo: <alice@mailtrail.example>\n\
Subject: Undeliverable Mail\nX-Mailer: <SMTP32 v990729>\n\n\
Unknown user: bob@example.org\n\n\nOriginal message follows.\n\nFrom: alice@mailtrail.example\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.org"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
    assert!(c.recipients[0].hard);
    // Another server's bare "Unknown user" with no command: Sisimai's
    // rule makes it the recipient's filter.
    let other = m.replace("X-Mailer: <SMTP32 v990729>\n", "");
    assert_eq!(
        classify(other.as_bytes()).recipients[0].reason,
        Reason::Filtered
    );
}

#[test]
fn recipient_address_rejected_with_an_unknown_explanation() {
    use super::reason::{Context, decide};
    let d = |t: &str| decide(t, "", Some("5.0.0"), Some("550"), Context::Failed);
    assert_eq!(
        d("550 <bob@example.net>: Recipient address rejected."),
        Reason::UserUnknown
    );
    assert_eq!(
        d("550 5.0.0 <bob@example.net>: Recipient address rejected: On hold"),
        Reason::OnHold
    );
}

#[test]
fn interscan_notice_without_its_last_sentence() {
    let m = "From: postmaster@gw.example.jp\nTo: alice@mailtrail.example\nSubject: Mail could not be delivered\n\
MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"I\"\n\n\
--I\nContent-type: text/plain\n\n****** Message from InterScan Messaging Security Suite ******\n\n\
The following mail could not be delivered.\n\
Reason:  Unable to deliver message to <bob@example.jp> (and other recipients in the same domain).\n\n\
--I\nContent-type: message/rfc822\n\nFrom: alice@mailtrail.example\nTo: bob@example.jp\nSubject: hi\n\nhi\n--I--\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.recipients[0].address.as_deref(), Some("bob@example.jp"));
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
}

#[test]
fn apple_mail_unsubscribe_is_an_opt_out() {
    let m = "From: carol@icloud.example\nTo: opt-out-1@mailtrail.example\nSubject: unsubscribe\n\
Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\n\n\
Apple Mail sent this email to unsubscribe from the message \"hi\".\n";
    let c = classify(m.as_bytes());
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.feedback_type.as_deref(), Some("opt-out"));
    assert_eq!(
        c.recipients[0].address.as_deref(),
        Some("carol@icloud.example")
    );
    assert_eq!(c.recipients[0].reason, Reason::Feedback);
}

#[test]
fn wording_of_rates_spam_disks_and_local_programs() {
    use super::reason::{Context, decide};
    let d = |t: &str, s: Option<&str>, c: Option<&str>| decide(t, "", s, c, Context::Failed);
    // The repeated "550-5.7.1" of a multi-line reply splits no phrase.
    assert_eq!(
        d(
            "550-5.7.1 [192.0.2.1 13] Messages with multiple 550-5.7.1 addresses in From: header are not accepted.",
            Some("5.7.1"),
            Some("550")
        ),
        Reason::NotCompliantRfc
    );
    assert_eq!(
        d(
            "452 4.3.2 Connection rate limit exceeded.",
            Some("4.3.2"),
            Some("452")
        ),
        Reason::TooManyConn
    );
    assert_eq!(
        d(
            "550 5.1.1 <bob@example.com> - 192.0.2.1 has sent to too many recipients this hour.",
            Some("5.1.1"),
            Some("550")
        ),
        Reason::Speeding
    );
    assert_eq!(
        d(
            "554 5.6.0 This message has been scored as spam with a probability of more than 90%",
            Some("5.6.0"),
            Some("554")
        ),
        Reason::SpamDetected
    );
    assert_eq!(
        d(
            "554 5.7.0 Reject, id=20025-09 - SPAM",
            Some("5.7.0"),
            Some("554")
        ),
        Reason::SpamDetected
    );
    assert_eq!(
        d(
            "452 4.4.5 Insufficient disk space; try again later",
            Some("4.4.5"),
            Some("452")
        ),
        Reason::SystemFull
    );
    assert_eq!(
        d(
            "550 SC-004 Unfortunately, messages from 192.0.2.1 weren't sent.",
            None,
            Some("550")
        ),
        Reason::Blocked
    );
    assert_eq!(
        d("Delivery failed 20 attempts", None, None),
        Reason::Expired
    );
    assert_eq!(
        decide(
            "temporary failure",
            "",
            Some("4.3.0"),
            None,
            Context::Mailer
        ),
        Reason::MailerError
    );
}

#[test]
fn google_groups_spam_and_gmail_dns_wording() {
    use super::reason::{Context, decide};
    assert_eq!(
        decide(
            "Your email to group g@example.com was rejected due to spam classification. \
             * Set up SPF records for your sending domain",
            "",
            Some("5.0.0"),
            None,
            Context::Failed
        ),
        Reason::SpamDetected
    );
    assert_eq!(
        decide(
            "DNS Error: 1 DNS type 'mx' lookup of gmal.example had no relevant answers.",
            "",
            Some("4.0.0"),
            None,
            Context::Failed
        ),
        Reason::NetworkError
    );
}

#[test]
fn sendmail_alias_expansion_names_both_addresses() {
    let m = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.nl>\nTo: alice@mailtrail.example\n\
Subject: Returned mail: User unknown\n\n\
The original message was received at Sat, 14 Oct 2000 06:14:45 +0200\n\n\
   ----- The following addresses had permanent fatal errors -----\n\
bob@host.example.nl\n    (expanded from: bob@example.nl)\n\n\
   ----- Transcript of session follows -----\n550 bob@host.example.nl... User unknown\n";
    assert_eq!(failed(m), vec!["bob@host.example.nl", "bob@example.nl"]);
}

#[test]
fn qmail_ldap_and_a_mailbox_size_limit() {
    use super::reason::{Context, decide};
    assert_eq!(
        decide(
            "Unable to contact LDAP server. (#4.4.3)I'm not going to try again; this message has been in the queue too long.",
            "",
            Some("4.4.3"),
            None,
            Context::Failed
        ),
        Reason::SystemError
    );
    assert_eq!(
        decide(
            "552 5.2.3 Message size exceeds fixed maximum message size (10485760)",
            "",
            Some("5.2.3"),
            Some("552"),
            Context::Failed
        ),
        Reason::ExceedLimit
    );
    assert_eq!(
        decide(
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "",
            Some("5.3.4"),
            Some("552"),
            Context::Failed
        ),
        Reason::MesgTooBig
    );
}

#[test]
fn expiry_unverified_identity_and_send_mail_as() {
    use super::reason::{Context, decide};
    let d = |t: &str| decide(t, "", None, None, Context::Failed);
    assert_eq!(
        d(
            "Your message was not delivered within 0 days and 1 hours. Remote host is not responding."
        ),
        Reason::Expired
    );
    assert_eq!(
        d(
            "554 Message rejected: Email address is not verified. The following identities failed the check"
        ),
        Reason::NoRelaying
    );
    assert_eq!(
        d(
            "The settings for your 'Send mail as' account are misconfigured. https://support.google.com/mail/?p=CustomFromDenied"
        ),
        Reason::Rejected
    );
}

#[test]
fn an_administrator_forwarding_a_message_is_no_bounce() {
    let m = "From: administrator@corp.example\nTo: alice@corp.example\nSubject: fyi\n\
MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"A\"\n\n\
--A\nContent-Type: text/plain\n\nbob@example.net: look at this one\n\n\
--A\nContent-Type: message/rfc822\n\nFrom: carol@example.org\nSubject: hi\n\nhi\n--A--\n";
    assert_ne!(classify(m.as_bytes()).kind, Kind::Bounce);
    // The same from MAILER-DAEMON is a notice in words it does not use.
    let daemon = m.replace("administrator@corp.example", "MAILER-DAEMON@corp.example");
    assert_eq!(classify(daemon.as_bytes()).kind, Kind::Bounce);
}

/// A message's fingerprint is its Message-ID when it has one, however
/// the header is folded; else a digest of its bytes, different for
/// different bytes, and never a panic.
#[test]
fn fingerprint_is_the_message_id_else_a_digest() {
    assert_eq!(
        fingerprint(b"Message-ID:\r\n  <abc@example.com>\r\nSubject: x\r\n\r\nbody"),
        "id:abc@example.com"
    );
    assert_eq!(
        fingerprint(b"Subject: x\r\nMessage-Id: <abc@example.com>\r\n\r\nother body"),
        "id:abc@example.com"
    );
    let a = fingerprint(b"Subject: x\r\n\r\nbody");
    let b = fingerprint(b"Subject: x\r\n\r\nbody!");
    // SHA-256 of "Subject: x\r\n\r\nbody", as sha256sum prints it.
    assert_eq!(
        a,
        "sha256:db0ceadc0ae983e913669d6a31a4a4ce00b701d0943a2b9dfe08668407878577"
    );
    assert_ne!(a, b);
    assert!(fingerprint(b"").starts_with("sha256:"));
    let long = format!("Message-ID: <{}@x>\r\n\r\n", "a".repeat(2000));
    assert!(fingerprint(long.as_bytes()).starts_with("sha256:"));
}
