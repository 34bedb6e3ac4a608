//! How statuses, times and events are shown: labels, icons, user agents.

use mailtrail_domain::{Opener, Status};
use mailtrail_store::Event;
use time::OffsetDateTime;
use time::macros::format_description;

/// A status as the dashboard shows it: an icon (decorative, `aria-hidden`)
/// always next to its text label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusView {
    /// The stable name, also the CSS class suffix.
    pub name: &'static str,
    /// The text a person reads.
    pub label: &'static str,
    /// Inline SVG, `aria-hidden`.
    pub icon: &'static str,
}

/// The label of a status as a person says it.
pub(crate) fn label(s: Status) -> &'static str {
    match s {
        Status::Queued => "queued",
        Status::Suppressed => "suppressed",
        Status::Deferred => "deferred",
        Status::Sent => "sent",
        Status::Delivered => "delivered",
        Status::Failed => "failed",
        Status::OpenedByMachine => "opened by a machine",
        Status::Opened => "opened by a person",
        Status::Clicked => "clicked",
        Status::Read => "read receipt",
        Status::Replied => "replied",
        Status::Unsubscribed => "unsubscribed",
        Status::Complained => "marked as spam",
    }
}

macro_rules! svg {
    ($body:literal) => {
        concat!(
            r#"<svg class="icon" aria-hidden="true" focusable="false" viewBox="0 0 16 16" width="16" height="16">"#,
            $body,
            "</svg>"
        )
    };
}

fn icon(s: Status) -> &'static str {
    match s {
        Status::Queued => svg!(
            r#"<circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="2"/><path d="M8 4v4l3 2" fill="none" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Suppressed => svg!(
            r#"<circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="2"/><path d="M4 12L12 4" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Deferred => svg!(
            r#"<path d="M13 8a5 5 0 1 1-2-4" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 1v4H8" fill="none" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Sent => svg!(r#"<path d="M1 8l14-6-5 13-2-5z" fill="currentColor"/>"#),
        Status::Delivered => {
            svg!(r#"<path d="M2 8l4 4 8-8" fill="none" stroke="currentColor" stroke-width="2.5"/>"#)
        }
        Status::Failed => {
            svg!(r#"<path d="M3 3l10 10M13 3L3 13" stroke="currentColor" stroke-width="2.5"/>"#)
        }
        Status::OpenedByMachine => svg!(
            r#"<rect x="3" y="4" width="10" height="9" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="6" cy="8" r="1" fill="currentColor"/><circle cx="10" cy="8" r="1" fill="currentColor"/><path d="M8 1v3" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Opened => svg!(
            r#"<path d="M1 8s3-5 7-5 7 5 7 5-3 5-7 5-7-5-7-5z" fill="none" stroke="currentColor" stroke-width="1.5"/><circle cx="8" cy="8" r="2.5" fill="currentColor"/>"#
        ),
        Status::Clicked => svg!(r#"<path d="M4 2l9 6-4 1 2 5-2 1-2-5-3 3z" fill="currentColor"/>"#),
        Status::Read => svg!(
            r#"<path d="M1 8l3 3 6-6M7 11l1 0 7-7" fill="none" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Replied => {
            svg!(r#"<path d="M6 3L1 8l5 5V10c4 0 7 1 9 4 0-5-3-8-9-8z" fill="currentColor"/>"#)
        }
        Status::Unsubscribed => svg!(
            r#"<rect x="1" y="3" width="14" height="10" rx="1" fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M5 8h6" stroke="currentColor" stroke-width="2"/>"#
        ),
        Status::Complained => svg!(
            r#"<path d="M8 1l7 13H1z" fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M8 6v4M8 11.5v1" stroke="currentColor" stroke-width="2"/>"#
        ),
    }
}

impl From<Status> for StatusView {
    fn from(s: Status) -> Self {
        Self {
            name: s.as_str(),
            label: label(s),
            icon: icon(s),
        }
    }
}

/// The status a message row shows: the furthest any recipient got (the
/// highest rank), so that one reply among ten recipients is visible.
pub(crate) fn message_status(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses
        .into_iter()
        .max_by_key(|s| s.rank())
        .unwrap_or(Status::Queued)
}

/// A time as `2025-01-31 09:30:00 UTC`.
pub(crate) fn when(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_else(|_| t.to_string())
}

/// Mail client (or browser) and operating system from a `User-Agent`,
/// simply: the first known product token wins. Good enough to tell Outlook
/// on Windows from Apple Mail on an iPhone; not a full parser.
pub(crate) fn client_and_os(ua: &str) -> (&'static str, &'static str) {
    let l = ua.to_ascii_lowercase();
    let client = [
        ("googleimageproxy", "Gmail image proxy"),
        ("yahoomailproxy", "Yahoo image proxy"),
        ("outlook", "Outlook"),
        ("microsoft office", "Outlook"),
        ("thunderbird", "Thunderbird"),
        ("edg/", "Edge"),
        ("firefox", "Firefox"),
        ("chrome", "Chrome"),
        ("applewebkit", "Apple Mail or Safari"),
        ("curl", "curl"),
        ("python", "a script (Python)"),
    ]
    .iter()
    .find(|(k, _)| l.contains(k))
    .map(|(_, v)| *v)
    .unwrap_or("unknown client");
    let os = [
        ("iphone", "iOS"),
        ("ipad", "iPadOS"),
        ("android", "Android"),
        ("windows", "Windows"),
        ("mac os x", "macOS"),
        ("macintosh", "macOS"),
        ("cros", "ChromeOS"),
        ("linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| l.contains(k))
    .map(|(_, v)| *v)
    .unwrap_or("unknown system");
    (client, os)
}

/// Who opened, in words.
pub(crate) fn opener_label(o: Opener) -> &'static str {
    match o {
        Opener::Human => "a person",
        Opener::Proxy => "a person, through their provider's image proxy",
        Opener::Machine => "a machine (privacy prefetch or scanner), not a person",
        Opener::SelfOpen => "you (the sender's own device)",
    }
}

/// One line of an event timeline.
#[derive(Debug, Clone)]
pub(crate) struct EventView {
    /// When, formatted.
    pub at: String,
    /// What happened.
    pub what: String,
    /// Facts about it, each `(name, value)`.
    pub facts: Vec<(String, String)>,
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An event in words, with the facts that explain it.
pub(crate) fn event_view(e: &Event) -> EventView {
    let mut facts = Vec::new();
    if let Some(o) = e.opener {
        facts.push(("opened by".to_owned(), opener_label(o).to_owned()));
    }
    if let Some(r) = &e.reason {
        if let Some(c) = r.smtp_code {
            facts.push(("SMTP code".to_owned(), c.to_string()));
        }
        if let Some(s) = &r.enhanced_status {
            facts.push(("status".to_owned(), s.clone()));
        }
        if let Some(n) = &r.reason {
            facts.push(("reason".to_owned(), n.clone()));
        }
        if let Some(t) = &r.text {
            facts.push(("server said".to_owned(), t.clone()));
        }
    }
    if let serde_json::Value::Object(map) = &e.data {
        for (k, v) in map {
            let Some(value) = scalar(v) else { continue };
            match k.as_str() {
                "user_agent" | "ua" => {
                    let (client, os) = client_and_os(&value);
                    facts.push(("client".to_owned(), format!("{client} on {os}")));
                    facts.push(("user agent".to_owned(), value));
                }
                "rule" => facts.push(("decided by rule".to_owned(), value)),
                "url" => facts.push(("link".to_owned(), value)),
                "disposition" => facts.push(("receipt disposition".to_owned(), value)),
                other => facts.push((other.replace('_', " "), value)),
            }
        }
    }
    let implied = e.data.get("implied") == Some(&serde_json::Value::Bool(true));
    EventView {
        at: when(e.at),
        what: if implied {
            "opened (implied by a click: images were blocked)".to_owned()
        } else {
            e.kind.as_str().replace('_', " ")
        },
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_label_and_an_icon() {
        for s in Status::ALL {
            let v = StatusView::from(s);
            assert!(!v.label.is_empty());
            assert!(v.icon.contains(r#"aria-hidden="true""#));
        }
        assert_eq!(label(Status::Opened), "opened by a person");
        assert_eq!(label(Status::OpenedByMachine), "opened by a machine");
    }

    #[test]
    fn the_row_shows_the_furthest_recipient() {
        assert_eq!(
            message_status([Status::Delivered, Status::Replied, Status::Failed]),
            Status::Replied
        );
        assert_eq!(message_status([]), Status::Queued);
    }

    #[test]
    fn user_agents() {
        assert_eq!(
            client_and_os(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
            ),
            ("Apple Mail or Safari", "iOS")
        );
        assert_eq!(
            client_and_os(
                "Mozilla/4.0 (compatible; ms-office; MSOffice 16) Microsoft Outlook 16.0; Windows NT 10.0"
            ),
            ("Outlook", "Windows")
        );
        assert_eq!(
            client_and_os(
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
            ),
            ("Gmail image proxy", "Windows")
        );
        assert_eq!(client_and_os(""), ("unknown client", "unknown system"));
    }
}
