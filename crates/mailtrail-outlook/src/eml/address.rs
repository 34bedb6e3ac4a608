//! Sender and recipients as RFC 5322 mailboxes. Exchange (`EX`) entries
//! carry an X.500 DN in their address property; the SMTP address is in
//! PidTagSenderSmtpAddress / PidTagSentRepresentingSmtpAddress for the
//! sender and PidTagSmtpAddress for a recipient (MS-OXOMSG 2.2.1).

use mail_builder::headers::address::Address;

use crate::property::{PropertyBag, id};

/// Which header a recipient row belongs to (PidTagRecipientType,
/// MS-OXOMSG 2.2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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

/// The address in a search key ("SMTP:USER@EXAMPLE.COM", MS-OXPROPS
/// PidTagSenderSearchKey), lower-cased since the key is upper-cased.
fn search_key(props: &PropertyBag, id: u16) -> Option<String> {
    let key = props.binary(id)?;
    let text = std::str::from_utf8(key).ok()?.trim_end_matches('\0');
    let addr = text.strip_prefix("SMTP:")?;
    addr.contains('@').then(|| addr.to_ascii_lowercase())
}

/// The From mailbox: the "sent representing" user (on whose behalf the
/// message was sent) first, as Outlook shows it, then the sender. An
/// Exchange sender with no SMTP property falls back to the search key, then
/// to the creator's SMTP address (the mailbox that composed the message);
/// with none of those the display name alone is kept.
pub(super) fn sender(props: &PropertyBag) -> Option<Address<'static>> {
    let represented = smtp(
        props,
        &[id::SENT_REPRESENTING_SMTP_ADDRESS],
        id::SENT_REPRESENTING_EMAIL,
        id::SENT_REPRESENTING_ADDRTYPE,
    )
    .map(|a| (props.string(id::SENT_REPRESENTING_NAME), a));
    let represented = represented.or_else(|| {
        smtp(
            props,
            &[id::SENDER_SMTP_ADDRESS],
            id::SENDER_EMAIL,
            id::SENDER_ADDRTYPE,
        )
        .map(|a| (props.string(id::SENDER_NAME), a))
    });
    let name_only = || {
        props
            .string(id::SENT_REPRESENTING_NAME)
            .or_else(|| props.string(id::SENDER_NAME))
    };
    let (name, email) = match represented {
        Some(found) => found,
        None => {
            let fallback = search_key(props, id::SENT_REPRESENTING_SEARCH_KEY)
                .or_else(|| search_key(props, id::SENDER_SEARCH_KEY))
                .or_else(|| props.string(id::CREATOR_SMTP_ADDRESS))
                .or_else(|| props.string(id::LAST_MODIFIER_SMTP_ADDRESS))
                .filter(|a| a.contains('@'));
            match fallback {
                Some(a) => (name_only(), a.trim().to_owned()),
                None => return name_only().map(|n| Address::new_group(Some(n), Vec::new())),
            }
        }
    };
    Some(mailbox(name, email))
}

fn mailbox(name: Option<String>, email: String) -> Address<'static> {
    let name = name.filter(|n| !n.eq_ignore_ascii_case(&email) && !n.trim().is_empty());
    Address::new_address(name, email)
}

/// The recipient table grouped by header, in table order.
pub(super) fn recipients(rows: &[PropertyBag]) -> [(Kind, Vec<Address<'static>>); 3] {
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
