//! The Contact page: every interaction with one address across the
//! organisation's messages (sent, delivered, failed, opened and by whom,
//! clicked, read receipt, replied...), as one timeline, newest first.

use std::collections::HashSet;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_domain::{EmailAddress, EventKind, Opener};

use super::signed::{Chrome, SignedIn};
use super::view::{EventView, event_view};
use super::{DashError, html};
use crate::AppState;

/// The most events the page shows: years of a busy contact's history; the
/// rest is left to the API.
const TIMELINE_LIMIT: u32 = 500;

/// `/contacts/{address}`, with the address percent-encoded as one path
/// segment (RFC 3986 section 3.3): everything but unreserved characters,
/// `@` and `+` is escaped, so that `/`, `?`, `#` and `%` in a local part
/// cannot change the URL's shape.
pub(crate) fn contact_href(address: &str) -> String {
    let mut out = String::with_capacity(address.len() + 10);
    out.push_str("/contacts/");
    for b in address.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An event in the words of a contact's timeline: who opened or clicked
/// is part of what happened.
fn label(kind: EventKind, opener: Option<Opener>) -> String {
    let who = match opener {
        Some(Opener::Human) => " by a person",
        Some(Opener::Proxy) => " by a person (through an image proxy)",
        Some(Opener::Machine) => " by a machine (not a read)",
        Some(Opener::SelfOpen) => " by you (not counted)",
        None => "",
    };
    match kind {
        EventKind::Opened => format!("opened{who}"),
        EventKind::Clicked => format!("clicked{who}"),
        EventKind::ReadReceipt => "read receipt returned".to_owned(),
        EventKind::AutoReplied => "automatic reply".to_owned(),
        EventKind::Complained => "marked as spam".to_owned(),
        other => other.as_str().replace('_', " "),
    }
}

struct Item {
    kind: &'static str,
    label: String,
    event: EventView,
    message_href: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    chrome: Chrome,
    address: String,
    items: Vec<Item>,
    messages: usize,
    truncated: bool,
}

/// `GET /contacts/{address}`: the organisation's history with one
/// address. A malformed address is a 400 page; an address with nothing
/// is an empty page, not an error (the address may simply be new).
pub(crate) async fn contact(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    Path(address): Path<String>,
) -> Result<Response, DashError> {
    let address = EmailAddress::parse(address.trim()).map_err(|e| {
        DashError::Invalid(format!(
            "“{}” is not an email address ({e}). A contact page is at /contacts/ followed by an address such as ann@example.com.",
            address.chars().take(200).collect::<String>()
        ))
    })?;
    let events = state
        .store
        .contact_events(s.user.org_id, &address, TIMELINE_LIMIT)
        .await?;
    let messages = events
        .iter()
        .map(|f| f.message_id)
        .collect::<HashSet<_>>()
        .len();
    let truncated = events.len() >= TIMELINE_LIMIT as usize;
    let items = events
        .iter()
        .map(|f| {
            let mut event = event_view(&f.event);
            // The label already says who opened.
            event.facts.retain(|(k, _)| k != "opened by");
            Item {
                kind: f.event.kind.as_str(),
                label: label(f.event.kind, f.event.opener),
                event,
                message_href: format!("/messages/{}", f.message_id),
                subject: if f.subject.is_empty() {
                    "(no subject)".to_owned()
                } else {
                    f.subject.clone()
                },
            }
        })
        .collect();
    let page = ContactPage {
        chrome: (&s).into(),
        address: address.as_str().to_owned(),
        items,
        messages,
        truncated,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_keep_the_address_in_one_segment() {
        assert_eq!(contact_href("ann@example.com"), "/contacts/ann@example.com");
        assert_eq!(
            contact_href("a/b?c#d%e f+g@x.test"),
            "/contacts/a%2Fb%3Fc%23d%25e%20f+g@x.test"
        );
    }

    #[test]
    fn labels_say_who_opened() {
        assert_eq!(
            label(EventKind::Opened, Some(Opener::Machine)),
            "opened by a machine (not a read)"
        );
        assert_eq!(
            label(EventKind::Clicked, Some(Opener::SelfOpen)),
            "clicked by you (not counted)"
        );
        assert_eq!(label(EventKind::ReadReceipt, None), "read receipt returned");
        assert_eq!(label(EventKind::DocumentOpened, None), "document opened");
    }
}
