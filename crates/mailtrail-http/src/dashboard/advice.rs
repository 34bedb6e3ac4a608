//! What a failure reason means and what to do about it, in plain words.
//!
//! The reason names are Sisimai's bounce vocabulary ([`Reason`]); the
//! advice is what the person who sent the message can act on. A pure table,
//! so that every one of the 36 names has an answer (tested below).

use mailtrail_domain::Reason;

/// A reason explained: what happened, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advice {
    /// What happened, in plain words.
    pub what: &'static str,
    /// What the sender can do.
    pub todo: &'static str,
}

/// The advice for a reason name as stored (`"userunknown"`); unknown or
/// missing names get the advice for `undefined`.
pub(crate) fn advice_for(name: Option<&str>) -> Advice {
    let reason = name
        .and_then(|n| Reason::ALL.iter().find(|r| r.as_str() == n).copied())
        .unwrap_or(Reason::Undefined);
    advice(reason)
}

/// The advice for one reason.
pub(crate) fn advice(reason: Reason) -> Advice {
    use Reason as R;
    let (what, todo) = match reason {
        R::AuthFailure => (
            "The receiving server checked SPF, DKIM or DMARC and they failed.",
            "Check the SPF record, the DKIM key published in DNS and the DMARC policy of the sending domain, then resend.",
        ),
        R::BadReputation => (
            "The receiver does not trust the sending IP address or domain.",
            "Check blocklists for the sending IP, warm the domain up slowly and send only to people who asked for mail.",
        ),
        R::Blocked => (
            "The receiving server blocked the sending IP address.",
            "Check SPF, DKIM and DMARC, reverse DNS of the sending IP and public blocklists; ask the receiver to unblock if needed.",
        ),
        R::ContentError => (
            "The receiving server refused the content (headers or encoding).",
            "Check the message headers and attachments for anything unusual, then resend.",
        ),
        R::Delivered => (
            "Not a failure: the message was delivered.",
            "Nothing to do.",
        ),
        R::ExceedLimit => (
            "The message is bigger than this recipient accepts.",
            "Send smaller attachments, or a link to the file instead.",
        ),
        R::Expired => (
            "The receiving server kept deferring the message until the retry window closed.",
            "Check the receiving domain's mail servers; resend later when it accepts mail again.",
        ),
        R::FailedStartTls => (
            "Encryption (STARTTLS) was required and could not be set up.",
            "Check the TLS settings of the sending path and the receiver's certificate.",
        ),
        R::Feedback => (
            "The recipient marked the message as spam.",
            "Do not send to this address again; the address is on the suppression list.",
        ),
        R::Filtered => (
            "A filter at the recipient's side refused the message.",
            "Ask the recipient to allow your address; check the content for spam-like wording.",
        ),
        R::HasMoved => (
            "The recipient has moved to another address.",
            "Use the new address the server gave in its reply.",
        ),
        R::HostUnknown => (
            "The recipient's domain does not exist or has no mail server.",
            "Check the domain part of the address for typos.",
        ),
        R::MailboxFull => (
            "The recipient's mailbox is full.",
            "It will be retried while the retry window lasts; otherwise try again later or reach them another way.",
        ),
        R::MailerError => (
            "The receiving mail program failed.",
            "The problem is at the receiver; try again later.",
        ),
        R::MesgTooBig => (
            "The message is too big for the receiving server.",
            "Send smaller attachments, or a link to the file instead.",
        ),
        R::NetworkError => (
            "A network or DNS error stopped delivery.",
            "Usually temporary: it is retried. If it persists, check the domain's DNS.",
        ),
        R::NoRelaying => (
            "The server refused to relay the message.",
            "Check the recipient domain's MX records and the smarthost settings.",
        ),
        R::NotAccept => (
            "The recipient's domain accepts no mail at all (null MX).",
            "The address cannot receive mail: use another one.",
        ),
        R::NotCompliantRfc => (
            "The message does not follow the mail standards.",
            "Check custom headers and the message format, then resend.",
        ),
        R::OnHold => (
            "The receiver held the message without a clear reason.",
            "Read the server's text below; try again later.",
        ),
        R::PolicyViolation => (
            "The receiver's policy refused the message.",
            "Read the server's text below; it usually names the rule.",
        ),
        R::Rejected => (
            "The sender address was refused.",
            "Check that the From domain exists, is authenticated (SPF, DKIM) and is allowed to send.",
        ),
        R::RequirePtr => (
            "The sending IP address has no reverse DNS (PTR) record.",
            "Set a PTR record for the sending IP that matches its host name.",
        ),
        R::SecurityError => (
            "A security check failed at the receiver.",
            "Check authentication settings and attachments, then resend.",
        ),
        R::SpamDetected => (
            "The receiver judged the message to be spam.",
            "Check SPF, DKIM and DMARC, and the content: links, wording, images without text.",
        ),
        R::Speeding => (
            "Too many messages were sent too fast: the receiver rate-limited them.",
            "It is retried; send more slowly to this domain.",
        ),
        R::Suppressed => (
            "Not sent: the address is on the suppression list.",
            "Remove it from the suppression list only if you know it works again.",
        ),
        R::Suspend => (
            "The recipient's mailbox is suspended or disabled.",
            "Reach the person another way; the address may work again later.",
        ),
        R::SyntaxError => (
            "The receiving server did not understand a command.",
            "Usually a problem of the sending path; check the smarthost and try again.",
        ),
        R::SystemError => (
            "The receiving system had an error.",
            "The problem is at the receiver; it is retried or try again later.",
        ),
        R::SystemFull => (
            "The receiving system is out of space.",
            "The problem is at the receiver; try again later.",
        ),
        R::TooManyConn => (
            "The receiver refused because of too many connections.",
            "It is retried; send more slowly to this domain.",
        ),
        R::Undefined => (
            "The reason could not be decided.",
            "Read the server's text below; contact the recipient's administrator if it persists.",
        ),
        R::UserUnknown => (
            "The recipient's mailbox does not exist.",
            "Correct the address; the address is on the suppression list until then.",
        ),
        R::Vacation => (
            "An automatic vacation reply came back.",
            "Nothing to do: the message was delivered; the person is away.",
        ),
        R::VirusDetected => (
            "The receiver found a virus in the message.",
            "Check the attachments and remove the infected file.",
        ),
    };
    Advice { what, todo }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_distinct_words() {
        assert_eq!(Reason::ALL.len(), 36);
        for r in Reason::ALL {
            let a = advice(*r);
            assert!(a.what.ends_with('.'), "{r:?}");
            assert!(a.todo.ends_with('.'), "{r:?}");
            assert_eq!(advice_for(Some(r.as_str())), a);
        }
    }

    #[test]
    fn the_common_ones_say_what_to_do() {
        assert!(
            advice_for(Some("userunknown"))
                .todo
                .contains("Correct the address")
        );
        assert!(advice_for(Some("mailboxfull")).todo.contains("retried"));
        assert!(advice_for(Some("spamdetected")).todo.contains("DKIM"));
        assert!(advice_for(Some("blocked")).todo.contains("SPF"));
        assert!(advice_for(Some("hostunknown")).todo.contains("domain"));
        assert!(advice_for(Some("expired")).what.contains("kept deferring"));
    }

    #[test]
    fn unknown_names_fall_back_to_undefined() {
        assert_eq!(advice_for(Some("nonsense")), advice(Reason::Undefined));
        assert_eq!(advice_for(None), advice(Reason::Undefined));
    }
}
