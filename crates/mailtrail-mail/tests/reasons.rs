//! Every reason the classifier can return, each from a synthetic message
//! written from the RFCs (RFC 3464 DSN fields, RFC 3463 enhanced status
//! codes, RFC 5321 reply codes, RFC 5965 feedback reports, RFC 3834
//! automatic replies) and from the wording vendors document for their
//! replies; none is copied from a corpus. Also: a report on several
//! recipients returns each with its own reason, and notices written in
//! other languages are read.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use mailtrail_domain::Reason;
use mailtrail_mail::inbound::{Classification, Kind, classify};

/// An RFC 3464 report (RFC 6522 container) with one group per recipient:
/// `(address, action, status, diagnostic)`.
fn dsn(recipients: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut groups = String::new();
    for (addr, action, status, diag) in recipients {
        groups.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {addr}\r\nAction: {action}\r\n"
        ));
        if !status.is_empty() {
            groups.push_str(&format!("Status: {status}\r\n"));
        }
        groups.push_str("Remote-MTA: dns; mx.example.net\r\n");
        if !diag.is_empty() {
            groups.push_str(&format!("Diagnostic-Code: {diag}\r\n"));
        }
    }
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mta.mailtrail.example>\r\n\
         To: bounces+t1@mailtrail.example\r\n\
         Subject: Delivery Status Notification (Failure)\r\n\
         Message-ID: <dsn1@mta.mailtrail.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mta.mailtrail.example\r\n{groups}\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         Message-ID: <m1@mailtrail.example>\r\nFrom: news@mailtrail.example\r\n\r\n\
         --b--\r\n"
    )
    .into_bytes()
}

fn one(status: &str, diag: &str) -> Classification {
    classify(&dsn(&[("bob@example.com", "failed", status, diag)]))
}

#[track_caller]
fn reason_of(status: &str, diag: &str) -> Reason {
    let c = one(status, diag);
    assert_eq!(c.kind, Kind::Bounce, "{status} {diag}");
    c.recipients[0].reason
}

#[test]
fn each_reason_from_a_dsn() {
    let cases: &[(&str, &str, Reason)] = &[
        // RFC 3463 X.1.1 bad destination mailbox address.
        (
            "5.1.1",
            "smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
            Reason::UserUnknown,
        ),
        // X.1.2 bad destination system address.
        (
            "5.1.2",
            "smtp; 550 5.1.2 Host unknown: example.com does not resolve",
            Reason::HostUnknown,
        ),
        // X.1.6 destination mailbox has moved.
        (
            "5.1.6",
            "smtp; 551 5.1.6 Mailbox has moved, no forwarding address",
            Reason::HasMoved,
        ),
        // X.1.10 null MX (RFC 7505).
        (
            "5.1.10",
            "smtp; 556 5.1.10 Recipient address has null MX",
            Reason::NotAccept,
        ),
        // X.2.1 mailbox disabled.
        (
            "5.2.1",
            "smtp; 550 5.2.1 The account is disabled",
            Reason::Suspend,
        ),
        // X.2.2 mailbox full.
        (
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox full, over quota",
            Reason::MailboxFull,
        ),
        // X.2.3 message length exceeds administrative limit.
        (
            "5.2.3",
            "smtp; 552 5.2.3 Message exceeds the mailbox's size limit",
            Reason::ExceedLimit,
        ),
        // X.3.1 mail system full.
        (
            "4.3.1",
            "smtp; 452 4.3.1 Insufficient system storage",
            Reason::SystemFull,
        ),
        // X.3.4 message too big for system.
        (
            "5.3.4",
            "smtp; 552 5.3.4 Message size exceeds fixed maximum message size",
            Reason::MesgTooBig,
        ),
        // X.3.5 system incorrectly configured.
        (
            "5.3.5",
            "smtp; 554 5.3.5 Local configuration error",
            Reason::SystemError,
        ),
        // X.4.0 other network or routing status.
        (
            "5.4.0",
            "smtp; 554 5.4.0 Network error while routing the message",
            Reason::NetworkError,
        ),
        // X.4.7 delivery time expired.
        (
            "4.4.7",
            "smtp; 4.4.7 Message expired, retry time exceeded",
            Reason::Expired,
        ),
        // X.5.2 syntax error.
        (
            "5.5.2",
            "smtp; 500 5.5.2 Syntax error, command unrecognized",
            Reason::SyntaxError,
        ),
        // X.5.3 too many recipients is a limit; too many connections.
        (
            "4.7.0",
            "smtp; 421 4.7.0 Too many concurrent connections from your host",
            Reason::TooManyConn,
        ),
        // X.6.0 media error.
        (
            "5.6.0",
            "smtp; 554 5.6.0 Invalid character set in message body",
            Reason::ContentError,
        ),
        // X.7.1 delivery not authorized: the sender is refused.
        (
            "5.7.1",
            "smtp; 553 5.7.1 Sender address rejected: not owned by user",
            Reason::Rejected,
        ),
        // X.7.1 with the sending host on a block list.
        (
            "5.7.1",
            "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Reason::Blocked,
        ),
        // X.7.1 relaying denied.
        (
            "5.7.1",
            "smtp; 554 5.7.1 <bob@example.com>: Relay access denied",
            Reason::NoRelaying,
        ),
        // X.7.10 encryption needed (RFC 5248), STARTTLS required.
        (
            "5.7.10",
            "smtp; 530 5.7.10 Must issue a STARTTLS command first",
            Reason::FailedStartTls,
        ),
        // X.7.25 reverse DNS validation failed (RFC 7372).
        (
            "5.7.25",
            "smtp; 550 5.7.25 The IP address sending this message does not have a PTR record",
            Reason::RequirePtr,
        ),
        // X.7.26 multiple authentication checks failed (RFC 7372).
        (
            "5.7.26",
            "smtp; 550 5.7.26 Unauthenticated email is not accepted due to the domain's DMARC policy",
            Reason::AuthFailure,
        ),
        // Spam content, virus content.
        (
            "5.7.1",
            "smtp; 550 5.7.1 Message rejected as spam by content filter",
            Reason::SpamDetected,
        ),
        (
            "5.7.1",
            "smtp; 554 5.7.1 Message rejected: virus found in message",
            Reason::VirusDetected,
        ),
        // The sending domain's or IP's reputation.
        (
            "5.7.1",
            "smtp; 550 5.7.1 Message rejected because of poor sender reputation",
            Reason::BadReputation,
        ),
        // A rate limit on the sender.
        (
            "4.7.0",
            "smtp; 450 4.7.0 You are sending too fast, rate limit exceeded",
            Reason::Speeding,
        ),
        // A site policy.
        (
            "5.7.1",
            "smtp; 550 5.7.1 Message rejected due to local policy violation",
            Reason::PolicyViolation,
        ),
        // RFC 5322 compliance (section 3.6: one Date, one From).
        (
            "5.7.1",
            "smtp; 550 5.7.1 Message is not RFC 5322 compliant: duplicate header",
            Reason::NotCompliantRfc,
        ),
        // The recipient's filter refused the message after DATA.
        (
            "5.2.0",
            "smtp; 550 5.2.0 Message rejected by the recipient's mail filter (in reply to end of DATA command)",
            Reason::Filtered,
        ),
        // X.7.0 other security status.
        (
            "5.7.9",
            "smtp; 554 5.7.9 Authentication mechanism is too weak",
            Reason::SecurityError,
        ),
        // A local delivery program failed (RFC 3464 diagnostic type X-Unix).
        (
            "5.3.0",
            "X-Unix; 75 procmail: Error while writing to mailbox",
            Reason::MailerError,
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|&&(status, diag, want)| reason_of(status, diag) != want)
        .map(|&(status, diag, want)| {
            format!(
                "{status} {diag}: {:?}, want {want:?}",
                reason_of(status, diag)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn nothing_to_go_on_is_onhold_or_undefined() {
    // A reply that names no reason, no detail in the status.
    assert_eq!(
        reason_of("5.0.0", "smtp; 550 Contact your administrator"),
        Reason::OnHold
    );
    // No status, no diagnostic, no words at all.
    let bare = String::from_utf8(dsn(&[("bob@example.com", "failed", "", "")]))
        .expect("utf-8")
        .replace("Your message could not be delivered.", "");
    let c = classify(bare.as_bytes());
    assert_eq!(c.recipients[0].reason, Reason::Undefined);
}

#[test]
fn delivered_delayed_feedback_vacation_suppressed() {
    let c = classify(&dsn(&[(
        "bob@example.com",
        "delivered",
        "2.0.0",
        "smtp; 250 2.0.0 OK",
    )]));
    assert_eq!(c.kind, Kind::DeliveryReport);
    assert_eq!(c.recipients[0].reason, Reason::Delivered);

    let c = classify(&dsn(&[(
        "bob@example.com",
        "delayed",
        "4.4.1",
        "smtp; 451 4.4.1 No answer from host",
    )]));
    assert_eq!(c.kind, Kind::Delay);

    // RFC 5965 feedback report.
    let arf = b"From: fbl@isp.example\r\nTo: fbl@mailtrail.example\r\nSubject: FW: offer\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"f\"\r\n\r\n\
--f\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n\
--f\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\n\
Version: 1\r\nOriginal-Rcpt-To: <ann@example.com>\r\n\r\n\
--f\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <m2@mailtrail.example>\r\n\r\n--f--\r\n";
    let c = classify(arf);
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.recipients[0].reason, Reason::Feedback);

    // RFC 3834 automatic reply.
    let auto = b"From: ann@example.com\r\nTo: news@mailtrail.example\r\nSubject: Out of Office: offer\r\n\
Auto-Submitted: auto-replied\r\nIn-Reply-To: <m3@mailtrail.example>\r\n\r\nI am away until Monday.\r\n";
    let c = classify(auto);
    assert_eq!(c.kind, Kind::AutoReply);
    assert_eq!(c.recipients[0].reason, Reason::Vacation);

    // Amazon SES's notice that the address is on its suppression list.
    let ses = br#"From: no-reply@sns.amazonaws.com
Subject: AWS Notification Message
Content-Type: text/plain

{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"Suppressed","bouncedRecipients":[{"emailAddress":"ann@example.com"}]},"mail":{"headers":[{"name":"Message-ID","value":"<m4@mailtrail.example>"}]}}"#;
    let c = classify(ses);
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].reason, Reason::Suppressed);
}

#[test]
fn several_recipients_each_with_its_own_reason() {
    let c = classify(&dsn(&[
        (
            "ann@example.com",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 No such user",
        ),
        (
            "bob@example.org",
            "failed",
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox full",
        ),
        (
            "cat@example.net",
            "failed",
            "5.7.1",
            "smtp; 554 5.7.1 Message rejected as spam",
        ),
        (
            "dan@example.com",
            "delayed",
            "4.4.1",
            "smtp; 421 4.4.1 Connection timed out",
        ),
    ]));
    assert_eq!(c.kind, Kind::Bounce);
    let got: Vec<(Option<&str>, Reason, bool)> = c
        .recipients
        .iter()
        .map(|r| (r.address.as_deref(), r.reason, r.hard))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("ann@example.com"), Reason::UserUnknown, true),
            (Some("bob@example.org"), Reason::MailboxFull, false),
            (Some("cat@example.net"), Reason::SpamDetected, false),
            (Some("dan@example.com"), Reason::Expired, false),
        ]
    );
}

/// A plain-text notice (no DSN part) from a mail system, as many servers
/// send in the language of their locale.
fn notice(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+t2@mailtrail.example\r\n\
         Subject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn notices_in_other_languages() {
    let cases: &[(&str, &str, Reason)] = &[
        (
            "Unzustellbar: Angebot",
            "Ihre Nachricht konnte nicht zugestellt werden.\r\n\r\n<ann@example.com>: RCPT TO: 550 5.0.0 Benutzer unbekannt",
            Reason::UserUnknown,
        ),
        (
            "Non remis : offre",
            "Votre message n'a pas pu être remis.\r\n\r\n<ann@example.com>: RCPT TO: 552 Boîte aux lettres pleine",
            Reason::MailboxFull,
        ),
        (
            "No se puede entregar: oferta",
            "No se pudo entregar el mensaje a los destinatarios.\r\n\r\n<ann@example.com>: RCPT TO: 550 Usuario desconocido",
            Reason::UserUnknown,
        ),
        (
            "Non recapitabile: offerta",
            "Impossibile recapitare il messaggio.\r\n\r\n<ann@example.com>: RCPT TO: 550 Utente sconosciuto",
            Reason::UserUnknown,
        ),
        (
            "Não é possível entregar: oferta",
            "A mensagem não foi entregue.\r\n\r\n<ann@example.com>: RCPT TO: 552 Caixa postal cheia",
            Reason::MailboxFull,
        ),
        (
            "Onbestelbaar: aanbieding",
            "Het bericht kan niet worden bezorgd.\r\n\r\n<ann@example.com>: RCPT TO: 550 Gebruiker onbekend",
            Reason::UserUnknown,
        ),
        (
            "配信不能: ご案内",
            "次の宛先へのメッセージは配信できませんでした。\r\n\r\n<ann@example.com>: RCPT TO: 550 ユーザが存在しません",
            Reason::UserUnknown,
        ),
        (
            "Недоставленное сообщение",
            "Не удалось доставить сообщение.\r\n\r\n<ann@example.com>: RCPT TO: 550 Пользователь не найден",
            Reason::UserUnknown,
        ),
        (
            "系统退信",
            "很抱歉，您的邮件无法送达。\r\n\r\n<ann@example.com>: RCPT TO: 550 该用户不存在",
            Reason::UserUnknown,
        ),
        (
            "Unzustellbar: Angebot",
            "Die Nachricht wurde nicht zugestellt.\r\n\r\n<ann@example.com>: RCPT TO: 554 Nachricht als Spam eingestuft",
            Reason::SpamDetected,
        ),
    ];
    let mut wrong = Vec::new();
    for &(subject, body, want) in cases {
        let c = classify(&notice(subject, body));
        let got = c
            .recipients
            .iter()
            .find(|r| r.address.as_deref() == Some("ann@example.com"))
            .map(|r| r.reason);
        if c.kind != Kind::Bounce || got != Some(want) {
            wrong.push(format!("{subject}: {:?} {got:?}, want {want:?}", c.kind));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn challenge_response_requests_are_not_bounces() {
    let c = classify(
        b"From: ann@example.com\r\nTo: news@mailtrail.example\r\nSubject: Re: offer\r\n\r\n\
I apologize for this automatic reply. To control spam, I now allow incoming messages only \
from senders I have approved beforehand. Please fill out the request form below.\r\n",
    );
    assert_eq!(c.kind, Kind::AutoReply);
    let c = classify(
        b"From: Verify <verify@challenge.example.net>\r\nTo: news@mailtrail.example\r\n\
Subject: Please verify your message\r\n\r\nYour message to ann@example.com is being held. \
To have it delivered, please click the link and confirm you are a real person.\r\n",
    );
    assert_eq!(c.kind, Kind::AutoReply);
}

#[test]
fn a_spam_rejection_listing_every_recipient() {
    // One refusal quoted for each recipient, each quoting the whole list
    // of recipients, folded over lines the way Postfix folds replies.
    let entry = |who: &str| {
        format!(
            "<{who}>: host mx.example.com[192.0.2.7] said: 550 5.7.1 Message\r\n    \
             rejected as spam for recipients ann@example.com, bob@example.com,\r\n    \
             cat@example.com (in reply to end of DATA command)\r\n\r\n"
        )
    };
    let body: String = ["ann@example.com", "bob@example.com", "cat@example.com"]
        .iter()
        .map(|w| entry(w))
        .collect();
    let c = classify(&notice(
        "Undelivered Mail Returned to Sender",
        &format!("This is the mail system at host mta.example.org.\r\n\r\n{body}"),
    ));
    assert_eq!(c.kind, Kind::Bounce);
    let mut got: Vec<(String, Reason)> = c
        .recipients
        .iter()
        .map(|r| (r.address.clone().unwrap_or_default(), r.reason))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("ann@example.com".to_owned(), Reason::SpamDetected),
            ("bob@example.com".to_owned(), Reason::SpamDetected),
            ("cat@example.com".to_owned(), Reason::SpamDetected),
        ]
    );
}

#[test]
fn unusual_wording_of_common_reasons() {
    let cases: &[(&str, &str, Reason)] = &[
        // Quota, said many ways.
        (
            "5.0.0",
            "smtp; 550 Recipient's inbox is full, try again later",
            Reason::MailboxFull,
        ),
        (
            "5.0.0",
            "smtp; 552 User has exceeded their storage quota",
            Reason::MailboxFull,
        ),
        (
            "5.0.0",
            "smtp; 550 The mailbox has exceeded its quota",
            Reason::MailboxFull,
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|&&(status, diag, want)| reason_of(status, diag) != want)
        .map(|&(status, diag, want)| {
            format!(
                "{status} {diag}: {:?}, want {want:?}",
                reason_of(status, diag)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
