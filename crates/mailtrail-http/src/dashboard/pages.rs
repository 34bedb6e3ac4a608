//! The dashboard's page handlers.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, RawQuery, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mailtrail_domain::{EmailAddress, MessageId, RecipientKind, Status};
use mailtrail_store::{Inserted, MessageFilter, NewApiKey, NewMessage, NewRecipient, Session};
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::advice::advice_for;
use super::contact::contact_href;
use super::domains::DomainRow;
use super::session::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME};
use super::simulate::{Act, Original, find_copy};
use super::view::{EventView, StatusView, event_view, message_status, when};
use super::{DashError, html, see_other};
use crate::api::{SendRequest, validate};
use mailtrail_domain::credentials::{generate_api_key, hash_api_key};

use crate::AppState;

/// Rows per page of the Emails page.
const PAGE_SIZE: u32 = 50;

/// What every signed-in page's frame needs: who is signed in, and the CSRF
/// token of the sign-out form.
pub(crate) struct Chrome {
    pub(crate) email: String,
    pub(crate) csrf: String,
    /// Administrators also see the Users page in the navigation.
    pub(crate) is_admin: bool,
}

impl From<&Session> for Chrome {
    fn from(s: &Session) -> Self {
        Self {
            email: s.user.email.as_str().to_owned(),
            csrf: s.csrf_token.clone(),
            is_admin: s.user.is_admin,
        }
    }
}

// ------------------------------------------------------------ sign-in

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<&'static str>,
    email: String,
}

fn login_page(status: StatusCode, error: Option<&'static str>, email: String) -> Response {
    let csrf = session::random_token();
    let page = LoginPage {
        csrf: csrf.clone(),
        error,
        email,
    };
    match page.render() {
        Ok(body) => {
            let mut res = html(status, body);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; Max-Age=3600; HttpOnly; SameSite=Lax"
            )) {
                res.headers_mut().append(SET_COOKIE, v);
            }
            res
        }
        Err(e) => DashError::Render(e).into_response(),
    }
}

/// `GET /login`.
pub(crate) async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::current(&state, &headers).await {
        Ok(Some(_)) => see_other("/"),
        _ => login_page(StatusCode::OK, None, String::new()),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

/// `POST /login`: checks the password with argon2; on success starts a
/// session and goes to the Emails page.
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, DashError> {
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !session::tokens_match(&form.csrf, expected) {
        return Err(DashError::Forbidden(
            "The sign-in form has expired. Go back, reload the page and sign in again.",
        ));
    }
    let refused = || {
        login_page(
            StatusCode::UNAUTHORIZED,
            Some("That address and password do not match an account."),
            form.email.clone(),
        )
    };
    let Ok(address) = EmailAddress::parse(form.email.trim()) else {
        return Ok(refused());
    };
    let Some(user) = state.store.user_by_email(&address).await? else {
        return Ok(refused());
    };
    if !session::verify_password(user.password_hash.clone(), form.password.clone()).await {
        return Ok(refused());
    }
    let id = session::start(&state, user.id).await?;
    let mut res = see_other("/");
    let cookie = session::set_cookie(
        &state,
        SESSION_COOKIE,
        &id,
        SESSION_LIFETIME.whole_seconds(),
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

/// `POST /logout`: ends the session and clears the cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, DashError> {
    session::for_form(&state, &headers, &form.csrf).await?;
    if let Some(id) = session::cookie(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&session::hash_session_id(id), OffsetDateTime::now_utc())
            .await?;
    }
    let mut res = see_other("/login");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&state, SESSION_COOKIE, "", 0)) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

// ------------------------------------------------------------ emails

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
    since: String,
    until: String,
    older: Option<String>,
    filtered: bool,
    error: Option<String>,
}

/// The Emails page's query: repeated `status`, `recipient`, `subject`,
/// `since`/`until` dates (`YYYY-MM-DD`, inclusive), `before` cursor.
#[derive(Default)]
struct EmailsQuery {
    statuses: Vec<Status>,
    recipient: String,
    subject: String,
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

fn kind_label(k: RecipientKind) -> &'static str {
    match k {
        RecipientKind::To => "to",
        RecipientKind::Cc => "cc",
        RecipientKind::Bcc => "bcc",
    }
}

/// `GET /`: the organisation's messages, newest first, filtered, one page.
pub(crate) async fn emails(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
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
        since: query.since.clone(),
        until: query.until.clone(),
        older,
        filtered,
        error,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

// ------------------------------------------------------------ detail

struct ReasonView {
    what: &'static str,
    todo: &'static str,
    name: String,
    smtp: String,
    text: String,
}

struct RecipientDetail {
    id: String,
    address: String,
    contact: String,
    kind: &'static str,
    status: StatusView,
    reason: Option<ReasonView>,
    opens: u64,
    machine_opens: u64,
    clicks: u64,
    /// When a person first opened it, and "(implied by a click)" when that
    /// open was a click with no pixel load before it.
    first_open: Option<String>,
    implied_opens: u64,
    /// (url, person clicks, machine clicks).
    links: Vec<(String, u64, u64)>,
    events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    subject: String,
    created: String,
    headers: Vec<(String, String)>,
    recipients: Vec<RecipientDetail>,
    attachments: Vec<String>,
}

fn parse_id(id: &str) -> Result<Uuid, DashError> {
    Uuid::parse_str(id).map_err(|_| DashError::NotFound)
}

/// `GET /messages/{id}`: every recipient's status, failure advice and
/// timeline, and the message's headers.
pub(crate) async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
    let id = parse_id(&id)?;
    let m = state
        .store
        .message(s.user.org_id, id)
        .await?
        .ok_or(DashError::NotFound)?;
    // The stored content, for the extra headers and attachments. The
    // message was just found in this organisation, so this is its own.
    let content = state
        .store
        .outbound_message(id)
        .await?
        .filter(|o| o.org_id == s.user.org_id);
    let from = match &m.from_name {
        Some(n) => format!("{n} <{}>", m.from_address.as_str()),
        None => m.from_address.as_str().to_owned(),
    };
    let mut hdrs = vec![
        ("From".to_owned(), from),
        ("Subject".to_owned(), m.subject.clone()),
        ("Message-ID".to_owned(), format!("<{}>", m.message_id)),
        ("Date".to_owned(), when(m.created_at)),
    ];
    if m.read_receipt {
        hdrs.push((
            "Disposition-Notification-To".to_owned(),
            "(read receipt requested)".to_owned(),
        ));
    }
    let mut attachments = Vec::new();
    if let Some(o) = &content {
        if let Some(r) = &o.reply_to {
            hdrs.push(("Reply-To".to_owned(), r.as_str().to_owned()));
        }
        hdrs.extend(o.content.headers.iter().cloned());
        attachments = o
            .content
            .attachments
            .iter()
            .map(|a| {
                format!(
                    "{} ({}, {} bytes)",
                    a.filename,
                    a.content_type,
                    a.content.len()
                )
            })
            .collect();
    }
    let recipients = m
        .recipients
        .iter()
        .map(|r| {
            let reason = match r.status {
                Status::Failed | Status::Deferred | Status::Suppressed => {
                    let sr = r.status_reason.clone().unwrap_or_default();
                    let name = sr.reason.clone().unwrap_or_else(|| {
                        if r.status == Status::Suppressed {
                            "suppressed".to_owned()
                        } else {
                            "undefined".to_owned()
                        }
                    });
                    let a = advice_for(Some(&name));
                    Some(ReasonView {
                        what: a.what,
                        todo: a.todo,
                        name,
                        smtp: [
                            sr.smtp_code.map(|c| c.to_string()),
                            sr.enhanced_status.clone(),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                        text: sr.text.unwrap_or_default(),
                    })
                }
                _ => None,
            };
            RecipientDetail {
                id: r.id.to_string(),
                address: r.address.as_str().to_owned(),
                contact: contact_href(r.address.as_str()),
                kind: kind_label(r.kind),
                status: r.status.into(),
                reason,
                opens: r.opens,
                machine_opens: r.machine_opens,
                clicks: r.clicks,
                first_open: r.first_open_at.map(|t| {
                    if r.first_open_implied {
                        format!("{} (implied by a click: images were blocked)", when(t))
                    } else {
                        when(t)
                    }
                }),
                implied_opens: r.implied_opens,
                links: r
                    .links
                    .iter()
                    .map(|l| (l.url.clone(), l.clicks, l.machine_clicks))
                    .collect(),
                events: r.events.iter().map(event_view).collect(),
            }
        })
        .collect();
    let page = DetailPage {
        chrome: (&s).into(),
        id: m.id.to_string(),
        subject: m.subject.clone(),
        created: when(m.created_at),
        headers: hdrs,
        recipients,
        attachments,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[derive(Deserialize)]
pub(crate) struct ResendForm {
    csrf: String,
    recipient: String,
}

/// `POST /messages/{id}/resend`: a new message with the same content, to
/// one recipient of this one.
pub(crate) async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Response, DashError> {
    let s = session::for_form(&state, &headers, &form.csrf).await?;
    let id = parse_id(&id)?;
    let recipient = parse_id(&form.recipient)?;
    let o = state
        .store
        .outbound_message(id)
        .await?
        .filter(|o| o.org_id == s.user.org_id)
        .ok_or(DashError::NotFound)?;
    let (_, address, kind) = o
        .recipients
        .iter()
        .find(|(rid, _, _)| *rid == recipient)
        .cloned()
        .ok_or(DashError::NotFound)?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("resent_from".to_owned(), id.to_string().into());
    let new = NewMessage {
        id: Uuid::now_v7(),
        org_id: s.user.org_id,
        user_id: s.user.id,
        message_id: MessageId::generate(o.from_address.domain()),
        from_address: o.from_address,
        from_name: o.from_name,
        reply_to: o.reply_to,
        subject: o.subject,
        content: o.content,
        read_receipt: o.read_receipt,
        track_opens: o.track_opens,
        track_clicks: o.track_clicks,
        metadata,
        idempotency_key: None,
        created_at: OffsetDateTime::now_utc(),
        recipients: vec![NewRecipient {
            id: Uuid::now_v7(),
            address,
            kind: if kind == RecipientKind::Bcc {
                RecipientKind::To
            } else {
                kind
            },
        }],
    };
    let new_id = store_message(&state, &new).await?;
    Ok(see_other(&format!("/messages/{new_id}")))
}

/// Stores a message and wakes a worker, as the API's send does.
async fn store_message(state: &AppState, new: &NewMessage) -> Result<Uuid, DashError> {
    Ok(match state.store.insert_message(new).await? {
        Inserted::Created(id) => {
            state.notify.notify_one();
            tracing::info!(message.id = %id, recipients = new.recipients.len(), "message queued from the dashboard");
            id
        }
        Inserted::Existing(id) => id,
    })
}

// ------------------------------------------------------------ sandbox

struct CopyRow {
    id: String,
    address: String,
    subject: String,
    captured: String,
    message_id: String,
}

#[derive(Template)]
#[template(path = "sandbox.html")]
struct SandboxPage {
    chrome: Chrome,
    copies: Vec<CopyRow>,
}

#[derive(Template)]
#[template(path = "sandbox_copy.html")]
struct SandboxCopyPage {
    chrome: Chrome,
    id: String,
    address: String,
    subject: String,
    captured: String,
    message_id: String,
    srcdoc: String,
    raw: String,
    status: Option<StatusView>,
    receipt_asked: bool,
    notice: Option<String>,
}

/// How many captured copies the sandbox page lists.
const SANDBOX_LIST: u32 = 200;

fn copy_subject(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_default()
}

/// `GET /sandbox`: the copies the sandbox transport captured.
pub(crate) async fn sandbox(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
    let copies = state
        .store
        .sandbox_copies(s.user.org_id, SANDBOX_LIST)
        .await?
        .into_iter()
        .map(|c| CopyRow {
            id: c.id.to_string(),
            address: c.address,
            subject: copy_subject(&c.raw),
            captured: when(c.captured_at),
            message_id: c.message_id.to_string(),
        })
        .collect();
    let page = SandboxPage {
        chrome: (&s).into(),
        copies,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

/// The HTML a captured copy shows: its HTML part, or its text part in a
/// `<pre>`. Links open outside the frame (`<base target="_blank">`).
fn render_copy(raw: &str) -> (String, String) {
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
        h
    } else if let Some(t) = m.body_text(0) {
        format!("<pre>{}</pre>", escape(&t))
    } else {
        "<p>(empty message)</p>".to_owned()
    };
    (subject, format!("<base target=\"_blank\">{body}"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Deserialize)]
pub(crate) struct CopyQuery {
    #[serde(default)]
    simulated: Option<String>,
    #[serde(default)]
    processed: Option<String>,
}

/// `GET /sandbox/{id}`: one captured copy, rendered in a sandboxed frame
/// as the recipient would see it (its pixel loads, its links work), with
/// the recipient's status and the buttons that play the recipient.
pub(crate) async fn sandbox_copy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<CopyQuery>,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
    let id = parse_id(&id)?;
    let copy = find_copy(&state, s.user.org_id, id).await?;
    let status = state
        .store
        .message(s.user.org_id, copy.message_id)
        .await?
        .and_then(|m| m.recipients.into_iter().find(|r| r.id == copy.recipient_id))
        .map(|r| StatusView::from(r.status));
    let receipt_asked = Original::read(&copy.raw).is_some_and(|o| o.receipt_to.is_some());
    let notice = q.simulated.as_deref().and_then(Act::parse).map(|a| {
        if q.processed.as_deref() == Some("1") {
            format!(
                "{}. The inbound path processed it; the status below is updated.",
                a.done()
            )
        } else {
            format!(
                "{}. The message is stored and still being processed; reload in a moment.",
                a.done()
            )
        }
    });
    let (subject, srcdoc) = render_copy(&copy.raw);
    let page = SandboxCopyPage {
        chrome: (&s).into(),
        id: copy.id.to_string(),
        address: copy.address,
        subject,
        captured: when(copy.captured_at),
        message_id: copy.message_id.to_string(),
        srcdoc,
        raw: copy.raw,
        status,
        receipt_asked,
        notice,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

// ------------------------------------------------------------ compose

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    chrome: Chrome,
    error: Option<String>,
    from: String,
    to: String,
    cc: String,
    subject: String,
    body: String,
    html_body: bool,
    read_receipt: bool,
    track: bool,
}

async fn compose_page(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
    input: Option<ComposeInput>,
) -> Result<Response, DashError> {
    let org = state
        .store
        .organisation(s.user.org_id)
        .await?
        .ok_or(DashError::NotFound)?;
    let i = input.unwrap_or_else(|| ComposeInput {
        from: s.user.email.as_str().to_owned(),
        html_body: true,
        read_receipt: org.read_receipt_default,
        track: org.track_opens_default,
        ..ComposeInput::default()
    });
    let page = ComposePage {
        chrome: s.into(),
        error,
        from: i.from,
        to: i.to,
        cc: i.cc,
        subject: i.subject,
        body: i.body,
        html_body: i.html_body,
        read_receipt: i.read_receipt,
        track: i.track,
    };
    Ok(html(status, page.render()?))
}

/// `GET /compose`.
pub(crate) async fn compose_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
    compose_page(&state, &s, StatusCode::OK, None, None).await
}

#[derive(Default)]
struct ComposeInput {
    csrf: String,
    from: String,
    to: String,
    cc: String,
    subject: String,
    body: String,
    html_body: bool,
    read_receipt: bool,
    track: bool,
    attachments: Vec<serde_json::Value>,
}

fn addresses(s: &str) -> Vec<serde_json::Value> {
    s.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| serde_json::Value::String(a.to_owned()))
        .collect()
}

impl ComposeInput {
    async fn read(mut mp: Multipart) -> Result<Self, String> {
        let mut i = Self::default();
        let unreadable = |e: axum::extract::multipart::MultipartError| e.body_text();
        while let Some(field) = mp.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "attachments" {
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(unreadable)?;
                if filename.is_empty() && bytes.is_empty() {
                    continue; // the file input was left empty
                }
                let mut a = serde_json::json!({
                    "filename": filename,
                    "content_base64": STANDARD.encode(&bytes),
                });
                if let Some(ct) = content_type {
                    a["content_type"] = ct.into();
                }
                i.attachments.push(a);
                continue;
            }
            let value = field.text().await.map_err(unreadable)?;
            match name.as_str() {
                "csrf" => i.csrf = value,
                "from" => i.from = value,
                "to" => i.to = value,
                "cc" => i.cc = value,
                "subject" => i.subject = value,
                "body" => i.body = value,
                "format" => i.html_body = value == "html",
                "read_receipt" => i.read_receipt = true,
                "track" => i.track = true,
                _ => {}
            }
        }
        Ok(i)
    }

    /// The same request the JSON API takes, so that it goes through the
    /// same validation.
    fn request(&self) -> Result<SendRequest, String> {
        let mut v = serde_json::json!({
            "to": addresses(&self.to),
            "cc": addresses(&self.cc),
            "subject": self.subject,
            "read_receipt": self.read_receipt,
            "track": {"opens": self.track, "clicks": self.track},
            "attachments": self.attachments,
        });
        if !self.from.trim().is_empty() {
            v["from"] = self.from.trim().into();
        }
        v[if self.html_body { "html" } else { "text" }] = self.body.clone().into();
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

/// `POST /compose`: validates as the API does, stores, goes to the new
/// message's page.
pub(crate) async fn compose(
    State(state): State<AppState>,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, DashError> {
    let input = match ComposeInput::read(mp).await {
        Ok(i) => i,
        Err(e) => {
            let s = session::for_page(&state, &headers).await?;
            return compose_page(&state, &s, StatusCode::BAD_REQUEST, Some(e), None).await;
        }
    };
    let s = session::for_form(&state, &headers, &input.csrf).await?;
    let org = state
        .store
        .organisation(s.user.org_id)
        .await?
        .ok_or(DashError::NotFound)?;
    let defaults = state.settings.message_defaults(&org);
    let valid = input
        .request()
        .and_then(|r| validate(r, &defaults).map_err(|e| e.to_string()));
    let v = match valid {
        Ok(v) => v,
        Err(e) => {
            return compose_page(&state, &s, StatusCode::BAD_REQUEST, Some(e), Some(input)).await;
        }
    };
    let new = v.into_new_message(s.user.org_id, s.user.id);
    let id = store_message(&state, &new).await?;
    Ok(see_other(&format!("/messages/{id}")))
}

// ------------------------------------------------------------ settings

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    owner: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    org_name: String,
    read_receipt: bool,
    track_opens: bool,
    track_clicks: bool,
    saved: bool,
    new_key: Option<(String, String)>,
    revoked: Option<bool>,
    self_link: Option<String>,
    keys: Vec<KeyRow>,
    /// Whether the key list shows every user's keys (an administrator).
    all_keys: bool,
    /// The sender networks, one per line, as stored or as just entered.
    networks: String,
    /// Why the networks just entered were not saved.
    networks_error: Option<String>,
    /// The organisation's sending domains with their DNS records.
    domains: Vec<DomainRow>,
    domain_flash: Option<DomainFlash>,
    default_selector: &'static str,
}

/// What the sending-domain section says after its forms.
pub(crate) enum DomainFlash {
    /// A domain was added (its id): its record is highlighted.
    Added(String),
    /// A domain was removed.
    Removed,
}

/// What a settings page shows beyond the stored settings.
#[derive(Default)]
struct SettingsNotice {
    saved: bool,
    new_key: Option<(String, String)>,
    revoked: Option<bool>,
    /// Sender networks entered but refused: the text and why.
    networks: Option<(String, String)>,
    /// A sending domain just added or removed.
    domain_flash: Option<DomainFlash>,
}

async fn settings_page(
    state: &AppState,
    s: &Session,
    notice: SettingsNotice,
) -> Result<Response, DashError> {
    let org = state
        .store
        .organisation(s.user.org_id)
        .await?
        .ok_or(DashError::NotFound)?;
    // The tracking endpoints' "this is my device" link (GET /t/self/...):
    // opening it sets the signed `mailtrail_self` cookie that marks this
    // browser's opens and clicks as the sender's own.
    let self_link = state
        .keyring
        .sign(s.user.org_id, mailtrail_domain::Purpose::SelfDevice, &[])
        .ok()
        .map(|t| format!("{}/t/self/{t}", state.settings.public_url));
    // An administrator sees (and may revoke) every key of the
    // organisation; anyone else their own.
    let owner = if s.user.is_admin {
        None
    } else {
        Some(s.user.id)
    };
    let keys = state
        .store
        .api_keys(s.user.org_id, owner)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            owner: k.user_email,
            created: when(k.created_at),
            last_used: k
                .last_used_at
                .map(when)
                .unwrap_or_else(|| "never".to_owned()),
            revoked: k.revoked_at.map(when),
        })
        .collect();
    let (networks, networks_error, status) = match notice.networks {
        Some((text, error)) => (text, Some(error), StatusCode::BAD_REQUEST),
        None => (
            state.store.sender_networks(s.user.org_id).await?.join("\n"),
            None,
            StatusCode::OK,
        ),
    };
    let page = SettingsPage {
        chrome: s.into(),
        self_link,
        org_name: org.name,
        read_receipt: org.read_receipt_default,
        track_opens: org.track_opens_default,
        track_clicks: org.track_clicks_default,
        saved: notice.saved,
        new_key: notice.new_key,
        revoked: notice.revoked,
        keys,
        all_keys: s.user.is_admin,
        networks,
        networks_error,
        domains: super::domains::rows(state, s.user.org_id).await?,
        domain_flash: notice.domain_flash,
        default_selector: super::domains::DEFAULT_SELECTOR,
    };
    Ok(html(status, page.render()?))
}

/// `GET /settings`.
pub(crate) async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let s = session::for_page(&state, &headers).await?;
    let saved = raw.as_deref() == Some("saved=1");
    let domain_flash = match raw.as_deref() {
        Some("domain_removed=1") => Some(DomainFlash::Removed),
        Some(q) => q
            .strip_prefix("domain_added=")
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(|id| DomainFlash::Added(id.to_string())),
        None => None,
    };
    settings_page(
        &state,
        &s,
        SettingsNotice {
            saved,
            domain_flash,
            ..SettingsNotice::default()
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    csrf: String,
    #[serde(default)]
    read_receipt: Option<String>,
    #[serde(default)]
    track_opens: Option<String>,
    #[serde(default)]
    track_clicks: Option<String>,
}

/// `POST /settings`: the organisation's defaults for new messages.
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SettingsForm>,
) -> Result<Response, DashError> {
    let s = session::for_form(&state, &headers, &form.csrf).await?;
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can change its defaults.",
        ));
    }
    state
        .store
        .set_organisation_defaults(
            s.user.org_id,
            form.read_receipt.is_some(),
            form.track_opens.is_some(),
            form.track_clicks.is_some(),
        )
        .await?;
    Ok(see_other("/settings?saved=1"))
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    csrf: String,
    name: String,
}

/// `POST /settings/api-keys`: a new key, shown this once.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, DashError> {
    let s = session::for_form(&state, &headers, &form.csrf).await?;
    let (key, prefix) = generate_api_key();
    let id = Uuid::now_v7();
    let name = form.name.trim();
    state
        .store
        .create_api_key(&NewApiKey {
            id,
            user_id: s.user.id,
            name: if name.is_empty() { "dashboard" } else { name }.to_owned(),
            key_hash: hash_api_key(&key),
            prefix,
        })
        .await?;
    settings_page(
        &state,
        &s,
        SettingsNotice {
            new_key: Some((id.to_string(), key)),
            ..SettingsNotice::default()
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    csrf: String,
    key_id: String,
}

/// `POST /settings/api-keys/revoke`: a revoked key never works again.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, DashError> {
    let s = session::for_form(&state, &headers, &form.csrf).await?;
    let revoked = match Uuid::parse_str(form.key_id.trim()) {
        Ok(id) => {
            // Anyone may revoke their own keys; an administrator any key of
            // the organisation (the store keeps it to the organisation).
            let allowed = s.user.is_admin
                || state
                    .store
                    .api_keys(s.user.org_id, Some(s.user.id))
                    .await?
                    .iter()
                    .any(|k| k.id == id);
            if !allowed {
                return Err(DashError::Forbidden(
                    "Only the key's owner or an administrator of the organisation can revoke it.",
                ));
            }
            state.store.revoke_api_key(s.user.org_id, id).await?
        }
        Err(_) => false,
    };
    settings_page(
        &state,
        &s,
        SettingsNotice {
            revoked: Some(revoked),
            ..SettingsNotice::default()
        },
    )
    .await
}

/// Parses the sender networks form: one network per line (CIDR, or a bare
/// address for one host), blank lines ignored. The error names the first
/// bad line; nothing is saved then.
fn parse_sender_networks(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut nets: Vec<ipnet::IpNet> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() {
            continue;
        }
        let n = i + 1;
        let net = entry
            .parse::<ipnet::IpNet>()
            .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                format!(
                    "Line {n}: “{entry}” is not an IP network. Write one per line, such as 203.0.113.0/24, 2001:db8:1::/48 or a single address."
                )
            })?
            .trunc();
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    if nets.len() > 200 {
        return Err(format!(
            "{} networks is more than the 200 allowed. Merge neighbouring networks into wider ones.",
            nets.len()
        ));
    }
    Ok(nets)
}

#[derive(Deserialize)]
pub(crate) struct NetworksForm {
    csrf: String,
    #[serde(default)]
    networks: String,
}

/// `POST /settings/sender-networks`: the organisation's sender networks,
/// all valid or none saved; the tracking endpoints use them at once.
pub(crate) async fn save_sender_networks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NetworksForm>,
) -> Result<Response, DashError> {
    let s = session::for_form(&state, &headers, &form.csrf).await?;
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can change its sender networks.",
        ));
    }
    let nets = match parse_sender_networks(&form.networks) {
        Ok(n) => n,
        Err(e) => {
            let notice = SettingsNotice {
                networks: Some((form.networks, e)),
                ..SettingsNotice::default()
            };
            return settings_page(&state, &s, notice).await;
        }
    };
    let text: Vec<String> = nets.iter().map(ToString::to_string).collect();
    state
        .store
        .set_sender_networks(s.user.org_id, &text)
        .await?;
    state.tracking.sender_networks().set(s.user.org_id, nets);
    tracing::info!(org.id = %s.user.org_id, networks = text.len(), "sender networks changed");
    Ok(see_other("/settings?saved=1"))
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

    #[test]
    fn sender_networks_are_checked_line_by_line() {
        let nets = parse_sender_networks(
            "203.0.113.7/24\n\n  2001:db8::/48 \n198.51.100.9\n203.0.113.0/24\n",
        )
        .unwrap();
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["203.0.113.0/24", "2001:db8::/48", "198.51.100.9/32"]
        );
        assert!(parse_sender_networks("").unwrap().is_empty());
        let e = parse_sender_networks("10.1.0.0/16\n10.0.0.300/8\n").unwrap_err();
        assert!(e.starts_with("Line 2: “10.0.0.300/8”"), "{e}");
        let e = parse_sender_networks("10.0.0.0/33").unwrap_err();
        assert!(e.starts_with("Line 1: “10.0.0.0/33”"), "{e}");
        let e = parse_sender_networks("2001:db8::/48\nfe80::1%eth0").unwrap_err();
        assert!(e.starts_with("Line 2:"), "{e}");
    }

    #[test]
    fn copies_render_html_or_escaped_text() {
        let raw = "Subject: Hi\r\nContent-Type: text/plain\r\n\r\n<b>x</b>\r\n";
        let (subject, doc) = render_copy(raw);
        assert_eq!(subject, "Hi");
        assert!(doc.contains("&lt;b&gt;x&lt;/b&gt;"));
        let raw = "Subject: Hi\r\nContent-Type: text/html\r\n\r\n<p>hello <img src=\"http://t/p.gif\"></p>\r\n";
        let (_, doc) = render_copy(raw);
        assert!(doc.contains("<img src=\"http://t/p.gif\">"));
        assert!(doc.starts_with("<base target=\"_blank\">"));
    }
}
