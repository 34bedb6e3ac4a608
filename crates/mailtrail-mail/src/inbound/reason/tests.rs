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
