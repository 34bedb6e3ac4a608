//! Sender and recipients as RFC 5322 mailboxes. Exchange (`EX`) entries
//! carry an X.500 DN in their address property; the SMTP address is in
//! PidTagSenderSmtpAddress / PidTagSentRepresentingSmtpAddress for the
//! sender and PidTagSmtpAddress for a recipient (MS-OXOMSG 2.2.1).

use mail_builder::headers::address::Address;

use crate::property::{PropertyBag, id};

/// Which header a recipient row belongs to (PidTagRecipientType,
/// MS-OXOMSG 2.2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MAPI_TO (1).
    To,
    /// MAPI_CC (2).
    Cc,
    /// MAPI_BCC (3).
    Bcc,
}

/// An SMTP address from `props`: the SMTP property when set, else the
/// address property when its type is SMTP or it looks like one.
fn smtp(props: &PropertyBag, smtp_ids: &[u16], addr_id: u16, type_id: u16) -> Option<String> {
    for &i in smtp_ids {
        if let Some(a) = props.string(i).filter(|a| a.contains('@')) {
            return Some(a.trim().to_owned());
        }
    }
    let addr = props.string(addr_id)?;
    let is_smtp = props
        .string(type_id)
        .is_some_and(|t| t.eq_ignore_ascii_case("SMTP"));
    (is_smtp || addr.contains('@') && !addr.starts_with('/')).then(|| addr.trim().to_owned())
}

/// The From mailbox: the "sent representing" user (on whose behalf the
/// message was sent) first, as Outlook shows it, then the sender.
pub fn sender(props: &PropertyBag) -> Option<Address<'static>> {
    let represented = smtp(
        props,
        &[id::SENT_REPRESENTING_SMTP_ADDRESS],
        id::SENT_REPRESENTING_EMAIL,
        id::SENT_REPRESENTING_ADDRTYPE,
    )
    .map(|a| (props.string(id::SENT_REPRESENTING_NAME), a));
    let (name, email) = represented.or_else(|| {
        smtp(
            props,
            &[id::SENDER_SMTP_ADDRESS],
            id::SENDER_EMAIL,
            id::SENDER_ADDRTYPE,
        )
        .map(|a| (props.string(id::SENDER_NAME), a))
    })?;
    Some(mailbox(name, email))
}

fn mailbox(name: Option<String>, email: String) -> Address<'static> {
    let name = name.filter(|n| !n.eq_ignore_ascii_case(&email) && !n.trim().is_empty());
    Address::new_address(name, email)
}

/// The recipient table grouped by header, in table order.
pub fn recipients(rows: &[PropertyBag]) -> [(Kind, Vec<Address<'static>>); 3] {
    let mut out = [
        (Kind::To, Vec::new()),
        (Kind::Cc, Vec::new()),
        (Kind::Bcc, Vec::new()),
    ];
    for row in rows {
        let kind = match row.int(id::RECIPIENT_TYPE).unwrap_or(1) & 0x0F {
            2 => 1,
            3 => 2,
            _ => 0,
        };
        let name = row.string(id::DISPLAY_NAME);
        match smtp(row, &[id::SMTP_ADDRESS], id::EMAIL_ADDRESS, id::ADDRTYPE) {
            Some(email) => out[kind].1.push(mailbox(name, email)),
            // No SMTP address at all (an unresolved Exchange entry): keep
            // the display name as an empty group rather than lose it.
            None => {
                if let Some(name) = name {
                    out[kind].1.push(Address::new_group(Some(name), Vec::new()));
                }
            }
        }
    }
    out
}
