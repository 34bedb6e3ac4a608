//! The Emails page, `GET /`: the organisation's messages, filtered.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_domain::{RecipientKind, Status};
use mailtrail_store::MessageFilter;
use time::macros::format_description;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::contact::contact_href;
use super::signed::{Chrome, SignedIn};
use super::view::{StatusView, message_status, when};
use super::{DashError, html};
use crate::AppState;

/// Rows per page of the Emails page.
const PAGE_SIZE: u32 = 50;

struct RecipientRow {
    address: String,
    contact: String,
    kind: &'static str,
    status: StatusView,
    opens: u64,
    machine_opens: u64,
    clicks: u64,
}

struct Row {
    id: String,
    subject: String,
    created: String,
    status: StatusView,
    summary: String,
    recipients: Vec<RecipientRow>,
}

struct StatusBox {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "emails.html")]
struct EmailsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    statuses: Vec<StatusBox>,
    recipient: String,
    subject: String,
    tag: String,
    since: String,
    until: String,
    older: Option<String>,
    filtered: bool,
    error: Option<String>,
}

/// The Emails page's query: repeated `status`, `recipient`, `subject`,
/// `tag` (exact), `since`/`until` dates (`YYYY-MM-DD`, inclusive), `before`
/// cursor.
#[derive(Default)]
struct EmailsQuery {
    statuses: Vec<Status>,
    recipient: String,
    subject: String,
    tag: String,
    since: String,
    until: String,
    before: Option<Uuid>,
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()
}

impl EmailsQuery {
    fn parse(raw: Option<&str>) -> Result<Self, String> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|_| "unreadable query")?;
        let mut q = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "status" => {
                    let s = v
                        .parse::<Status>()
                        .map_err(|_| format!("unknown status {v:?}"))?;
                    if !q.statuses.contains(&s) {
                        q.statuses.push(s);
                    }
                }
                "recipient" => q.recipient = v.trim().to_owned(),
                "subject" => q.subject = v.trim().to_owned(),
                "tag" => q.tag = v.trim().to_owned(),
                "since" => q.since = v.trim().to_owned(),
                "until" => q.until = v.trim().to_owned(),
                "before" => {
                    q.before = Some(Uuid::parse_str(&v).map_err(|_| "unknown page cursor")?)
                }
                _ => {}
            }
        }
        Ok(q)
    }

    fn filter(&self) -> Result<MessageFilter, String> {
        let day = |s: &str, what: &str| -> Result<Option<OffsetDateTime>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            parse_date(s)
                .map(|d| Some(d.midnight().assume_utc()))
                .ok_or_else(|| format!("{what} must be a date such as 2025-01-31"))
        };
        Ok(MessageFilter {
            statuses: self.statuses.clone(),
            recipient: Some(self.recipient.clone()).filter(|s| !s.is_empty()),
            subject: Some(self.subject.clone()).filter(|s| !s.is_empty()),
            tag: Some(self.tag.clone()).filter(|s| !s.is_empty()),
            since: day(&self.since, "From")?,
            // The date range is inclusive: "until" a day means before the
            // next midnight.
            until: day(&self.until, "To")?.map(|t| t + time::Duration::days(1)),
            before_id: self.before,
            limit: PAGE_SIZE,
        })
    }

    /// The query of the next page: these filters, before `last`.
    fn older(&self, last: Uuid) -> String {
        let mut pairs: Vec<(&str, String)> = self
            .statuses
            .iter()
            .map(|s| ("status", s.as_str().to_owned()))
            .collect();
        for (k, v) in [
            ("recipient", &self.recipient),
            ("subject", &self.subject),
            ("tag", &self.tag),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.clone()));
            }
        }
        pairs.push(("before", last.to_string()));
        format!(
            "/?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

pub(super) fn kind_label(k: RecipientKind) -> &'static str {
    match k {
        RecipientKind::To => "to",
        RecipientKind::Cc => "cc",
        RecipientKind::Bcc => "bcc",
    }
}

/// `GET /`: the organisation's messages, newest first, filtered, one page.
pub(crate) async fn emails(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let (query, error) = match EmailsQuery::parse(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (EmailsQuery::default(), Some(e)),
    };
    let (filter, error) = match query.filter() {
        Ok(f) => (f, error),
        Err(e) => (
            MessageFilter {
                limit: PAGE_SIZE,
                ..MessageFilter::default()
            },
            Some(e),
        ),
    };
    let messages = state.store.list_messages(s.user.org_id, &filter).await?;
    let older = match messages.last() {
        Some(last) if messages.len() >= PAGE_SIZE as usize => Some(query.older(last.id)),
        _ => None,
    };
    let rows = messages
        .into_iter()
        .map(|m| {
            let status = message_status(m.recipients.iter().map(|r| r.status));
            let first = m
                .recipients
                .first()
                .map(|r| r.address.as_str().to_owned())
                .unwrap_or_default();
            let summary = match m.recipients.len() {
                0 | 1 => first,
                n => format!("{first} and {} more", n - 1),
            };
            Row {
                id: m.id.to_string(),
                subject: if m.subject.is_empty() {
                    "(no subject)".to_owned()
                } else {
                    m.subject
                },
                created: when(m.created_at),
                status: status.into(),
                summary,
                recipients: m
                    .recipients
                    .into_iter()
                    .map(|r| RecipientRow {
                        address: r.address.as_str().to_owned(),
                        contact: contact_href(r.address.as_str()),
                        kind: kind_label(r.kind),
                        status: r.status.into(),
                        opens: r.opens,
                        machine_opens: r.machine_opens,
                        clicks: r.clicks,
                    })
                    .collect(),
            }
        })
        .collect();
    let filtered = !query.statuses.is_empty()
        || !query.recipient.is_empty()
        || !query.subject.is_empty()
        || !query.tag.is_empty()
        || !query.since.is_empty()
        || !query.until.is_empty();
    let page = EmailsPage {
        chrome: (&s).into(),
        rows,
        statuses: Status::ALL
            .iter()
            .map(|st| StatusBox {
                name: st.as_str(),
                label: super::view::label(*st),
                checked: query.statuses.contains(st),
            })
            .collect(),
        recipient: query.recipient.clone(),
        subject: query.subject.clone(),
        tag: query.tag.clone(),
        since: query.since.clone(),
        until: query.until.clone(),
        older,
        filtered,
        error,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_query_round_trips_into_the_older_link() {
        let q = EmailsQuery::parse(Some(
            "status=failed&status=opened&recipient=bob&since=2025-01-01&until=2025-01-31",
        ))
        .unwrap();
        assert_eq!(q.statuses, vec![Status::Failed, Status::Opened]);
        let f = q.filter().unwrap();
        assert_eq!(f.recipient.as_deref(), Some("bob"));
        assert_eq!(
            f.until.unwrap() - f.since.unwrap(),
            time::Duration::days(31)
        );
        let last = Uuid::now_v7();
        let link = q.older(last);
        let again = EmailsQuery::parse(Some(link.trim_start_matches("/?"))).unwrap();
        assert_eq!(again.statuses, q.statuses);
        assert_eq!(again.before, Some(last));
        assert!(EmailsQuery::parse(Some("status=bogus")).is_err());
        assert!(
            EmailsQuery::parse(Some("since=yesterday"))
                .unwrap()
                .filter()
                .is_err()
        );
    }
}
