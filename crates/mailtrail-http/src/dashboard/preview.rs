//! The sandbox inbox's preview of a captured copy, which must record
//! nothing: its open pixel is taken out and its tracked links point
//! straight at their targets, so that looking at a copy in the dashboard
//! is never counted as the recipient opening or clicking it.

use lol_html::{RewriteStrSettings, element, rewrite_str};
use mailtrail_domain::{Keyring, Purpose, TrackingPayload};
use time::OffsetDateTime;

use crate::escape::escape_html;

/// The HTML a captured copy shows, with its subject: its HTML part
/// without tracking, or its text part in a `<pre>`. Links open outside
/// the frame (`<base target="_blank">`).
pub(crate) fn render_copy(raw: &str, public_url: &str, keyring: &Keyring) -> (String, String) {
    let Some(m) = mail_parser::MessageParser::default().parse(raw.as_bytes()) else {
        return (
            String::new(),
            "<p>This copy could not be parsed.</p>".to_owned(),
        );
    };
    let subject = m.subject().unwrap_or_default().to_owned();
    // mail-parser also offers a text part as HTML; only a real HTML part
    // is shown as HTML, text is escaped here.
    let html_part = m.html_part(0).and_then(|p| match &p.body {
        mail_parser::PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    let body = if let Some(h) = html_part {
        without_tracking(&h, public_url, keyring)
    } else if let Some(t) = m.body_text(0) {
        format!("<pre>{}</pre>", escape_html(&t))
    } else {
        "<p>(empty message)</p>".to_owned()
    };
    (subject, format!("<base target=\"_blank\">{body}"))
}

/// `html` with this server's open pixels removed and its click links
/// replaced by the links they sign. A click token that does not verify
/// (expired, another key) leaves a link that goes nowhere. If the HTML
/// cannot be rewritten, nothing of it is shown rather than a copy that
/// would record an open.
fn without_tracking(html: &str, public_url: &str, keyring: &Keyring) -> String {
    let pixel = format!("{public_url}/t/o/");
    let click = format!("{public_url}/t/c/");
    let now = OffsetDateTime::now_utc();
    let settings = RewriteStrSettings::new()
        .append_element_content_handler(element!("img[src]", |el| {
            if el
                .get_attribute("src")
                .is_some_and(|s| s.trim().starts_with(&pixel))
            {
                el.remove();
            }
            Ok(())
        }))
        .append_element_content_handler(element!("a[href]", |el| {
            let Some(href) = el.get_attribute("href") else {
                return Ok(());
            };
            let Some(token) = href.trim().strip_prefix(&click) else {
                return Ok(());
            };
            let target = keyring
                .verify(token, Purpose::Click, now)
                .ok()
                .and_then(|c| TrackingPayload::decode(&c.payload))
                .and_then(|p| p.link)
                .filter(|l| l.starts_with("https://") || l.starts_with("http://"));
            match target {
                Some(link) => el.set_attribute("href", &link)?,
                None => el.remove_attribute("href"),
            }
            Ok(())
        }));
    rewrite_str(html, settings)
        .unwrap_or_else(|_| "<p>This copy's HTML could not be shown.</p>".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn keyring() -> Keyring {
        Keyring::new(vec![
            mailtrail_domain::TokenKey::new(1, b"0123456789abcdef0123", None).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn text_is_escaped_and_html_kept() {
        let k = keyring();
        let raw = "Subject: Hi\r\nContent-Type: text/plain\r\n\r\n<b>x</b>\r\n";
        let (subject, doc) = render_copy(raw, "http://t", &k);
        assert_eq!(subject, "Hi");
        assert!(doc.contains("&lt;b&gt;x&lt;/b&gt;"));
        let raw = "Subject: Hi\r\nContent-Type: text/html\r\n\r\n<p>hello <img src=\"http://other/p.gif\"></p>\r\n";
        let (_, doc) = render_copy(raw, "http://t", &k);
        assert!(doc.contains("<img src=\"http://other/p.gif\">"));
        assert!(doc.starts_with("<base target=\"_blank\">"));
    }

    #[test]
    fn the_preview_carries_no_tracking() {
        let k = keyring();
        let payload = TrackingPayload {
            issued_at: OffsetDateTime::now_utc(),
            org: None,
            link: Some("https://example.org/page?a=1".into()),
        };
        let click = k
            .sign(Uuid::now_v7(), Purpose::Click, &payload.encode())
            .unwrap();
        let html = format!(
            "<p><a href=\"https://pub.example/t/c/{click}\">read</a> \
             <a href=\"https://pub.example/t/c/forged\">bad</a> \
             <a href=\"https://elsewhere.example/\">plain</a></p>\
             <img src=\"https://pub.example/t/o/abc\" width=\"1\" height=\"1\" alt=\"\">\
             <img src=\"https://pub.example/logo.png\">"
        );
        let out = without_tracking(&html, "https://pub.example", &k);
        assert!(!out.contains("/t/o/"), "{out}");
        assert!(!out.contains("/t/c/"), "{out}");
        assert!(
            out.contains("href=\"https://example.org/page?a=1\""),
            "{out}"
        );
        assert!(out.contains("<a>bad</a>"), "{out}");
        assert!(out.contains("href=\"https://elsewhere.example/\""), "{out}");
        assert!(out.contains("logo.png"), "{out}");
    }
}
