use super::*;

#[test]
fn text_then_status_then_code() {
    let d = |t: &str, s, c| decide(t, "", s, c, Context::Failed);
    assert_eq!(
        d(
            "550 5.1.1 <a@b.example>: User unknown",
            Some("5.1.1"),
            Some("550")
        ),
        Reason::UserUnknown
    );
    assert_eq!(
        d("552 Mailbox full", None, Some("552")),
        Reason::MailboxFull
    );
    assert_eq!(d("rejected", Some("5.1.1"), None), Reason::UserUnknown);
    assert_eq!(d("something odd", Some("5.2.2"), None), Reason::MailboxFull);
    assert_eq!(d("something odd", None, Some("421")), Reason::TooManyConn);
    assert_eq!(d("something odd", None, None), Reason::OnHold);
    assert_eq!(d("", None, None), Reason::Undefined);
    assert_eq!(
        decide("", "", Some("4.0.0"), None, Context::Delayed),
        Reason::Expired
    );
    assert_eq!(d("delivered", Some("2.0.0"), None), Reason::Delivered);
    assert_eq!(
        d(
            "client host blocked using zen.spamhaus.org",
            Some("5.7.1"),
            None
        ),
        Reason::Blocked
    );
}

/// The one scan of `Found::of` finds what a scan per table finds.
#[test]
fn one_scan_same_as_one_per_table() {
    let priority = one_group_each(PRIORITY);
    let phrases = PhraseSet::new(PHRASES.iter().map(|(_, p)| *p));
    for t in [
        "550 5.1.1 <a@b.example>: recipient address rejected: user unknown in virtual mailbox table",
        "552 mailbox full; quota exceeded after rcpt to:<a@b.example>",
        "client host blocked using zen.spamhaus.org in reply to data command",
        "recipient not found by smtp address lookup",
        "in reply to end of data command: 554 spam detected",
        "",
        "nothing to see",
    ] {
        let f = Found::of(t);
        assert_eq!(
            f.priority,
            priority.first_group(t).map(|g| PRIORITY[g].1),
            "{t}"
        );
        assert_eq!(
            f.phrase,
            phrases.first_group(t).map(|g| PHRASES[g].0),
            "{t}"
        );
        assert_eq!(f.directory, DIRECTORY_SET.any(t), "{t}");
        assert_eq!(f.command, command(t), "{t}");
    }
}

#[test]
fn hardness() {
    assert!(is_hard(Reason::UserUnknown, None, None));
    assert!(is_hard(Reason::NotAccept, Some("5.1.10"), None));
    assert!(!is_hard(Reason::NotAccept, None, Some("421")));
    assert!(!is_hard(Reason::MailboxFull, Some("5.2.2"), None));
}

#[test]
fn a_missing_mailbox_is_said_many_ways() {
    let d = |t: &str, s| decide(t, "", s, Some("554"), Context::Failed);
    // The address between the words, a typo, a permanent policy status.
    assert_eq!(
        d(
            "554 5.7.1 <bob@example.com>: Recipient address rejected: user bob@example.com does not exist (in reply to RCPT TO command)",
            Some("5.7.1")
        ),
        Reason::UserUnknown
    );
    assert_eq!(
        d("554 RCPT (bob@example.com) dosn't exist", None),
        Reason::UserUnknown
    );
    // A domain that does not exist is a host, not a mailbox.
    assert_eq!(
        d("554 mail.example.org does not exist", None),
        Reason::HostUnknown
    );
}

#[test]
fn commands_named_in_capitals_count() {
    assert_eq!(
        named_command("554 RCPT (a@b.example) rejected"),
        Some(Command::Rcpt)
    );
    assert_eq!(named_command("550 rejected at DATA"), Some(Command::Data));
    assert_eq!(
        named_command("550 bad MAIL FROM address"),
        Some(Command::Mail)
    );
    // Part of a longer word, or lower case: not a command.
    assert_eq!(named_command("550 DATABASE error"), None);
    assert_eq!(named_command("550 no data here"), None);
    // "User unknown" said to RCPT stays an unknown user.
    assert_eq!(
        decide(
            "550 RCPT: user unknown",
            "",
            Some("5.0.0"),
            Some("550"),
            Context::Failed
        ),
        Reason::UserUnknown
    );
}

#[test]
fn the_reply_code_is_the_last_evidence() {
    let d = |t: &str, around: &str, code| decide(t, around, Some("5.0.0"), code, Context::Failed);
    // RFC 5321 section 4.2.2: 550 to RCPT, "mailbox unavailable".
    assert_eq!(
        d(
            "550 Requested action not taken",
            "(in reply to rcpt to command)",
            Some("550")
        ),
        Reason::UserUnknown
    );
    assert_eq!(
        d(
            "550 Requested action not taken",
            "(in reply to mail from command)",
            Some("550")
        ),
        Reason::Rejected
    );
    assert_eq!(
        d("554 Go away", "after initial connection", Some("554")),
        Reason::Blocked
    );
    // An explanation that names no reason is not overruled by the code.
    assert_eq!(
        d(
            "550 Recipient address rejected: On hold",
            "(in reply to rcpt to command)",
            Some("550")
        ),
        Reason::OnHold
    );
    // RFC 5321 section 4.2.2: 451, a local error in processing.
    assert_eq!(
        decide("451 Try again", "", None, Some("451"), Context::Failed),
        Reason::SystemError
    );
    // No command named, no words: onhold.
    assert_eq!(
        d("550 Requested action not taken", "", Some("550")),
        Reason::OnHold
    );
}

#[test]
fn a_refused_greeting_gives_way_to_what_the_server_said() {
    let d = |t: &str, s| decide(t, "", s, Some("421"), Context::Failed);
    assert_eq!(
        d(
            "host mx.example.com refused to talk to me: 421 4.4.2 Error: timeout exceeded",
            Some("4.4.2")
        ),
        Reason::NetworkError
    );
    assert_eq!(
        d(
            "host mx.example.com refused to talk to me: 421 Too many connections, slow down",
            None
        ),
        Reason::TooManyConn
    );
    assert_eq!(
        decide(
            "host mx.example.com refused to talk to me: 554 Go away",
            "",
            None,
            Some("554"),
            Context::Failed
        ),
        Reason::Blocked
    );
}

#[test]
fn an_undetailed_network_status_is_a_network_error() {
    // RFC 3463 section 3.5: 5.4.0, other network or routing status.
    assert_eq!(
        decide(
            "554 5.4.0 Error: routing",
            "",
            Some("5.4.0"),
            Some("554"),
            Context::Failed
        ),
        Reason::NetworkError
    );
}

#[test]
fn a_verb_quoted_in_the_rest_of_the_notice_counts() {
    let raw = ">>> RCPT TO:<bob@example.com>\n<<< 550 User unknown";
    let lower = raw.to_lowercase();
    let with = Around::with_raw(&lower, raw);
    let r = decide_with(
        "550 User unknown",
        &with,
        Some("5.0.0"),
        Some("550"),
        Context::Failed,
    );
    assert_eq!(r, Reason::UserUnknown);
    // Without a command anywhere, Sisimai's rule: filtered.
    let none = Around::with_raw("", "");
    let r = decide_with(
        "550 User unknown",
        &none,
        Some("5.0.0"),
        Some("550"),
        Context::Failed,
    );
    assert_eq!(r, Reason::Filtered);
}
