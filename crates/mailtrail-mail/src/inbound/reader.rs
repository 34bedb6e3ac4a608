//! The reading of one parsed message: its parts gathered ([`Reader::gather`]),
//! then the decision of what it is and whom it is about
//! ([`Reader::classify`]).

use super::*;

/// Everything gathered from the parts before deciding.
#[derive(Default)]
struct Gathered<'m> {
    dsn: Option<dsn::Dsn>,
    mdn: Option<mdn::Mdn>,
    arf: Option<arf::Report>,
    embedded_id: Option<String>,
    embedded_to: Vec<String>,
    /// The returned copy was a mailing list's (its `To` is the list).
    embedded_is_list: bool,
    embedded_from: Option<String>,
    nested_dsn: Option<dsn::Dsn>,
    /// The message returns a copy (or the headers) of another message.
    returned_copy: bool,
    /// `X-HmXmrOriginalRecipient` of an attached message (Microsoft JMRP).
    jmrp_recipient: Option<String>,
    /// The notice's text: borrowed from its part when it has one text
    /// part (most notices), a copy when parts are joined.
    body: Cow<'m, str>,
    html: String,
}

pub(super) struct Reader<'m, 'x> {
    parsed: &'m mime::Parsed<'x>,
    msg: &'m Message<'x>,
    top: TopHeaders,
    from: Option<String>,
    from_raw: String,
    subject: String,
    g: Gathered<'m>,
}

impl<'m, 'x> Reader<'m, 'x> {
    pub(super) fn new(parsed: &'m mime::Parsed<'x>) -> Self {
        let msg = &parsed.msg;
        let top = TopHeaders::new(msg);
        let from = parsed.sender_address();
        let from_raw = top
            .get(msg, "from")
            .or_else(|| raw_header(msg, "from"))
            .unwrap_or_default();
        let from = from.or_else(|| text::addresses(&from_raw).into_iter().next());
        let subject = parsed.subject().unwrap_or_default();
        let mut r = Self {
            parsed,
            msg,
            top,
            from,
            from_raw,
            subject,
            g: Gathered::default(),
        };
        r.gather();
        r
    }

    /// Walks the top-level MIME tree (parts of a returned message live in
    /// their own nested `Message` and are not visited).
    fn gather(&mut self) {
        let g = &mut self.g;
        // HTML is read only when the message has no text: its parts are
        // decoded after the walk, and only then.
        let mut html_parts = Vec::new();
        for (i, part) in self.msg.parts.iter().enumerate().take(500) {
            // Lower case (mail-parser has lower-cased them already: no
            // copy then).
            let (ctype, sub) = mime::content_type(&part.headers)
                .map(|ct| {
                    (
                        text::lower_ascii(ct.ctype()),
                        text::lower_ascii(ct.subtype().unwrap_or_default()),
                    )
                })
                .unwrap_or_default();
            match (&*ctype, &*sub) {
                ("message", "delivery-status" | "global-delivery-status")
                | ("text", "delivery-status") => {
                    let d = dsn::parse(&text::lossy(&self.parsed.contents(i)));
                    match &mut g.dsn {
                        Some(prev) => prev.recipients.extend(d.recipients),
                        None => g.dsn = Some(d),
                    }
                    continue;
                }
                ("message", "disposition-notification" | "global-disposition-notification") => {
                    if g.mdn.is_none() {
                        g.mdn = Some(mdn::parse(&text::lossy(&self.parsed.contents(i))));
                    }
                    continue;
                }
                ("message", "feedback-report") => {
                    if g.arf.is_none() {
                        g.arf = Some(arf::parse(&self.parsed.contents(i)));
                    }
                    continue;
                }
                ("text", "rfc822-headers" | "rfc822-header" | "global-headers") => {
                    g.returned_copy = true;
                    let contents = self.parsed.contents(i);
                    let headers = text::lossy(&contents);
                    if let Some(first) = &fields::first_group(&headers) {
                        if g.embedded_id.is_none() {
                            g.embedded_id =
                                fields::get(first, "message-id").and_then(dsn::message_id);
                        }
                        if g.embedded_to.is_empty() {
                            g.embedded_to = fields::get(first, "to")
                                .map(text::addresses)
                                .unwrap_or_default();
                            g.embedded_is_list = vendors::is_list_copy(|n| fields::get(first, n));
                        }
                        if g.embedded_from.is_none() {
                            g.embedded_from = fields::get(first, "from")
                                .and_then(|f| text::addresses(f).into_iter().next());
                        }
                    }
                    continue;
                }
                _ => {}
            }
            if self.parsed.is_html(i) {
                html_parts.push(i);
                continue;
            }
            if !self.parsed.may_be_text(i) {
                continue;
            }
            match self.parsed.view(i) {
                mime::View::Message(parsed) => {
                    let m = &parsed.msg;
                    g.returned_copy = true;
                    if g.jmrp_recipient.is_none() {
                        g.jmrp_recipient = parsed
                            .header_raw("X-HmXmrOriginalRecipient")
                            .and_then(|v| text::addresses(v).into_iter().next());
                    }
                    // A notice that forwards a mail server's bounce (a
                    // gateway passing the DSN on as an attachment): its
                    // report is used when the notice has none of its own.
                    if g.nested_dsn.is_none() && m.is_content_type("multipart", "report") {
                        g.nested_dsn = m
                            .parts
                            .iter()
                            .take(50)
                            .position(|p| {
                                mime::content_type(&p.headers).is_some_and(|ct| {
                                    ct.ctype().eq_ignore_ascii_case("message")
                                        && ct.subtype().is_some_and(|s| {
                                            s.eq_ignore_ascii_case("delivery-status")
                                        })
                                })
                            })
                            .map(|j| dsn::parse(&text::lossy(&parsed.contents(j))))
                            .filter(|d| !d.recipients.is_empty());
                    }
                    if g.embedded_id.is_none() {
                        g.embedded_id = parsed.message_id();
                    }
                    if g.embedded_to.is_empty() {
                        g.embedded_is_list = vendors::is_list_copy(|n| parsed.header_raw(n));
                        g.embedded_to = parsed.to_addresses();
                    }
                    if g.embedded_from.is_none() {
                        g.embedded_from = parsed.sender_address();
                    }
                }
                mime::View::Text(t) if ctype.is_empty() || ctype == "text" => {
                    if mime::content_disposition(&part.headers).is_some_and(|d| d.is_attachment())
                        && !g.body.is_empty()
                    {
                        continue;
                    }
                    push_body(&mut g.body, t);
                }
                // HTML was set aside above: `is_html` holds for every part
                // that reads as HTML.
                _ => {}
            }
        }
        if g.body.trim().is_empty() {
            for i in html_parts {
                if let mime::View::Html(t) = self.parsed.view(i) {
                    push_text(&mut g.html, &t);
                }
            }
        }
        if g.body.trim().is_empty() && !g.html.is_empty() {
            g.body = Cow::Owned(text::html_to_text(&g.html));
        }
        // A multipart whose boundary never appears in its body (mangled on
        // the way) leaves the walk with no text part: the body as sent is
        // the only text there is.
        if g.body.trim().is_empty() && g.dsn.is_none() {
            let root = self.msg.root_part();
            if let Some(b) = self
                .msg
                .raw_message()
                .get(root.offset_body as usize..root.offset_end as usize)
            {
                push_body(&mut g.body, text::lossy(b));
            }
        }
        if g.dsn.is_none() {
            g.dsn = dsn::in_text(&g.body).or_else(|| g.nested_dsn.take());
        }
        if g.arf.is_none() {
            g.arf = arf::jmrp(&self.subject, g.jmrp_recipient.take());
        }
    }

    /// The first top-level header `name`, unfolded ([`header`]).
    fn header(&self, name: &str) -> Option<String> {
        self.top.get(self.msg, name)
    }

    pub(super) fn classify(self) -> Classification {
        // Amazon SES's JSON notification, mailed by an SNS subscription.
        if let Some(c) = ses::read(&self.g.body) {
            return Classification {
                from: self.from.clone(),
                verp_token: self.verp_token(),
                ..c
            };
        }
        let mut c = Classification {
            from: self.from.clone(),
            verp_token: self.verp_token(),
            ..Default::default()
        };
        for h in ["in-reply-to", "references"] {
            if let Some(v) = self.header(h) {
                reply::message_ids(&v, &mut c.in_reply_to);
            }
        }
        let g = &self.g;
        let dsn_id = g.dsn.as_ref().and_then(|d| d.original_message_id.clone());
        c.original_message_id = dsn_id.or_else(|| g.embedded_id.clone());

        if let Some(report) = &g.arf {
            c.kind = Kind::Complaint;
            c.feedback_type = report.feedback_type.clone();
            let mut addrs: Vec<String> = report.original_rcpt_to.clone();
            if addrs.is_empty() {
                addrs = g.embedded_to.clone();
            }
            if addrs.is_empty() {
                addrs.push(String::new());
            }
            c.recipients = addrs
                .into_iter()
                .map(|a| plain_report(Some(a).filter(|a| !a.is_empty()), Reason::Feedback))
                .collect();
            return c;
        }
        // Apple Mail's unsubscribe button mails the list's RFC 2369
        // `List-Unsubscribe` address a message marked
        // `X-Apple-Unsubscribe: true`: its sender opts out.
        if self
            .header("x-apple-unsubscribe")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            c.kind = Kind::Complaint;
            c.feedback_type = Some("opt-out".to_owned());
            c.recipients = vec![plain_report(self.from.clone(), Reason::Feedback)];
            return c;
        }
        if let Some(m) = &g.mdn {
            c.kind = Kind::ReadReceipt;
            c.disposition = m.disposition.clone();
            if m.original_message_id.is_some() {
                c.original_message_id = m.original_message_id.clone();
            }
            let who = m.final_recipient.clone().or_else(|| self.from.clone());
            c.recipients = vec![plain_report(who, Reason::Delivered)];
            return c;
        }
        if let Some(d) = &g.dsn
            && !d.recipients.is_empty()
        {
            let (region, region_lower) = match ascii_lower(&g.body) {
                // One lower-cased copy of the body serves both.
                Some(mut lower) => {
                    let region = vendors::notice_region_in(&g.body, &lower);
                    lower.truncate(region.len());
                    (region, lower)
                }
                None => {
                    let region = vendors::notice_region(&g.body);
                    (region, region.to_lowercase())
                }
            };
            let around = reason::Around::with_raw(&region_lower, region);
            let scraped = vendors::scrape(region, &self.excluded());
            c.recipients = d
                .recipients
                .iter()
                .map(|r| self.dsn_report(r, region, &around, &scraped))
                .collect();
            c.kind = kind_of(&c.recipients);
            return c;
        }
        // RFC 6522: a multipart/report of report-type delivery-status is a
        // delivery report by declaration, even when its status part is
        // broken beyond reading.
        let declared_report = mime::content_type(&self.msg.root_part().headers).is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
                && ct
                    .attribute("report-type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
        });
        let body_lower = ascii_lower(&g.body).unwrap_or_else(|| g.body.to_lowercase());
        // RFC 5321 section 4.5.5: a non-delivery notification is sent with
        // the null reverse-path, which the final delivery records as
        // `Return-Path: <>` (section 4.4); with a mail system's own wording
        // that is enough, whoever the notice says it is from (KDDI's
        // "no-reply" notices).
        let null_return_path = self.header("return-path").is_some_and(|v| v.trim() == "<>");
        // A challenge-response filter holds the message and asks the sender
        // to prove they are a person: it was accepted, not returned.
        // (Such requests come from the person's address or the filter
        // service's, never from a mail system's own sender.)
        if !declared_report
            && !vendors::mailer_sender(&self.from_raw)
            && autoreply::is_challenge(&body_lower)
        {
            c.kind = Kind::AutoReply;
            c.recipients = vec![plain_report(self.from.clone(), Reason::Vacation)];
            return c;
        }
        let bounce_like = declared_report
            || vendors::looks_like_bounce(&self.from_raw, &self.subject, &body_lower)
            || (null_return_path && vendors::strong_notice(&body_lower))
            || self.fml_notice().is_some()
            // A mail system's message that returns a copy of another:
            // whatever language its words are in (Sina's GB2312 notice).
            || (g.returned_copy && vendors::daemon_sender(&self.from_raw));
        if bounce_like && let Some(rs) = self.scraped_reports(&body_lower) {
            c.kind = kind_of(&rs);
            c.recipients = rs;
            return c;
        }
        // A mail system's notice whose failed recipients cannot be read is
        // not a person's reply or an out-of-office: leave it as "other".
        if bounce_like && vendors::mailer_sender(&self.from_raw) {
            return c;
        }
        if mdn::is_informal_receipt(&self.subject, &g.body) {
            c.kind = Kind::ReadReceipt;
            c.disposition = Some("displayed".to_owned());
            c.recipients = vec![plain_report(self.from.clone(), Reason::Delivered)];
            if c.original_message_id.is_none() {
                c.original_message_id = c.in_reply_to.first().cloned();
            }
            return c;
        }
        let auto = autoreply::by_headers(|n| self.header(n))
            || autoreply::by_subject(&self.subject)
            || self.header("precedence").is_some_and(|p| {
                let p = p.to_ascii_lowercase();
                (p == "bulk" || p == "junk")
                    && !c.in_reply_to.is_empty()
                    && autoreply::by_subject(&self.subject)
            });
        if auto {
            c.kind = Kind::AutoReply;
            c.recipients = vec![plain_report(self.from.clone(), Reason::Vacation)];
            return c;
        }
        if !c.in_reply_to.is_empty() {
            c.kind = Kind::Reply;
        }
        c
    }

    /// Addresses that are certainly not the failed recipients of a bounce:
    /// the bounce's own sender and recipients, and the returned message's
    /// sender.
    fn excluded(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if let Some(f) = &self.from {
            v.push(f.clone());
        }
        for h in ["to", "return-path"] {
            if let Some(val) = self.header(h) {
                v.extend(text::addresses(&val));
            }
        }
        if let Some(f) = &self.g.embedded_from {
            v.push(f.clone());
        }
        // Exim names the failed recipients in a header of its own: those are
        // never excluded, even when the bounce goes back to the same address.
        let failed = self.failed_recipients_header();
        v.retain(|a| !failed.iter().any(|f| f.eq_ignore_ascii_case(a)));
        v
    }

    /// Exim's `X-Failed-Recipients` header (Exim specification, chapter
    /// "Message processing": added to every bounce it writes), the exact
    /// list of addresses that failed.
    fn failed_recipients_header(&self) -> Vec<String> {
        self.header("x-failed-recipients")
            .map(|v| text::addresses(&v))
            .unwrap_or_default()
    }

    /// fml's notice of a refused post or a mail loop ([`vendors::fml_notice`]).
    fn fml_notice(&self) -> Option<vendors::Found> {
        let ml_server = self.header("x-mlserver")?;
        vendors::fml_notice(
            Some(&ml_server),
            &self.from_raw,
            self.parsed.message_id().as_deref(),
            vendors::notice_region(&self.g.body),
        )
    }

    fn verp_token(&self) -> Option<String> {
        for h in [
            "delivered-to",
            "x-original-to",
            "envelope-to",
            "to",
            "x-envelope-to",
        ] {
            let Some(v) = self.header(h) else {
                continue;
            };
            // Every VERP address has a `+`; most headers have none, and
            // reading their addresses is the costly part.
            if !v.contains('+') {
                continue;
            }
            for a in text::addresses(&v) {
                let local = a.split('@').next().unwrap_or_default();
                // Bytes, not chars: a non-ASCII local part must not be cut
                // inside a character.
                if local.len() > 8
                    && let Some(rest) = local
                        .get(..8)
                        .filter(|p| p.eq_ignore_ascii_case("bounces+"))
                        .and_then(|_| local.get(8..))
                {
                    return Some(rest.to_owned());
                }
            }
        }
        None
    }

    fn dsn_report(
        &self,
        r: &dsn::DsnRecipient,
        region: &str,
        around: &reason::Around<'_>,
        scraped: &[vendors::Found],
    ) -> RecipientReport {
        let address = r.address().map(str::to_owned);
        let mut diagnostic = r
            .diagnostic
            .clone()
            .or_else(|| r.status_comment.clone())
            .map(|d| text::squash(&d, 4096));
        let from_text = address.as_ref().and_then(|a| {
            scraped
                .iter()
                .find(|f| f.address.eq_ignore_ascii_case(a))
                .map(|f| f.diagnostic.clone())
        });
        let mut status = r.status.clone();
        let diag_text = diagnostic.clone().unwrap_or_default();
        let reply_code = text::find_reply_code(&diag_text);
        // The code in the diagnostic is what the remote server really said
        // (RFC 3464 section 2.3.6); the Status field is the reporting MTA's
        // summary of it and sometimes a different guess of the same class.
        if let Some(d) = text::find_status(&diag_text)
            && (status.is_none() || status.as_deref().map(|s| &s[..1]) == Some(&d[..1]))
        {
            status = Some(d);
        }
        let action = r
            .action
            .or_else(|| match status.as_deref().map(|s| &s[..1]) {
                Some("2") => Some(Action::Delivered),
                Some("4") => Some(Action::Delayed),
                _ => Some(Action::Failed),
            });
        let ctx = match (action, r.diagnostic_type.as_deref()) {
            (_, Some(t)) if t.eq_ignore_ascii_case("x-unix") => reason::Context::Mailer,
            (Some(Action::Delayed), _) => reason::Context::Delayed,
            _ => reason::Context::Failed,
        };
        let mut text_for_reason = diag_text.clone();
        // No Diagnostic-Code: what the notice says in words is the only
        // evidence besides the status.
        if text_for_reason.trim().is_empty() && from_text.is_none() {
            text_for_reason = text::squash(region, 4096);
        }
        if let Some(t) = &from_text {
            text_for_reason.push(' ');
            text_for_reason.push_str(t);
        }
        let mut why = reason::decide_with(
            &text_for_reason,
            around,
            status.as_deref(),
            reply_code.as_deref(),
            ctx,
        );
        if matches!(why, Reason::OnHold | Reason::Undefined) {
            let whole = text::squash(region, 8192);
            let alt = reason::decide(&whole, "", status.as_deref(), reply_code.as_deref(), ctx);
            if !matches!(alt, Reason::OnHold | Reason::Undefined) {
                why = alt;
            }
        }
        if matches!(
            action,
            Some(Action::Delivered | Action::Relayed | Action::Expanded)
        ) {
            why = Reason::Delivered;
        }
        if diagnostic.is_none() {
            diagnostic = from_text.filter(|t| !t.is_empty());
        }
        let reply_code =
            reply_code.or_else(|| diagnostic.as_deref().and_then(text::find_reply_code));
        RecipientReport {
            // A delayed recipient is still being retried: never suppress it.
            hard: action != Some(Action::Delayed)
                && reason::is_hard(why, status.as_deref(), reply_code.as_deref()),
            address,
            action,
            status,
            reply_code,
            reason: why,
            diagnostic,
            remote_mta: r.remote_mta.clone(),
        }
    }

    /// The recipients a notice without a DSN names; `body_lower` is
    /// `self.g.body.to_lowercase()`.
    fn scraped_reports(&self, body_lower: &str) -> Option<Vec<RecipientReport>> {
        // For ASCII text the lower case is the ASCII lower case, and the
        // region's is a prefix of the body's: neither is made again.
        let ascii = self.g.body.is_ascii();
        let region = if ascii {
            vendors::notice_region_in(&self.g.body, body_lower)
        } else {
            vendors::notice_region(&self.g.body)
        };
        let excluded = self.excluded();
        let mut found = vendors::scrape(region, &excluded);
        // A message someone sent to their own address elsewhere: the
        // failed recipient is also the returned copy's sender. An address
        // the copy was sent to is a candidate after all when the notice
        // names no other.
        if found.is_empty() && !self.g.embedded_to.is_empty() {
            let narrower: Vec<String> = excluded
                .iter()
                .filter(|e| !self.g.embedded_to.iter().any(|t| t.eq_ignore_ascii_case(e)))
                .cloned()
                .collect();
            found = vendors::scrape(region, &narrower);
        }
        // A notice that names no address ("your mailbox is full") but
        // returns the message it is about: the returned message's single
        // recipient is the one that failed, when the notice comes from a
        // mail system and not from the list or person the copy was sent by.
        if found.is_empty() {
            found = vendors::exim_failed_list(region);
        }
        if found.is_empty() {
            found = vendors::aol_screen_names(&self.from_raw, region);
        }
        // The recipients of the returned copy, read from the text after the
        // notice (or within it) when the copy is quoted inline: only asked
        // for when nothing else named a recipient.
        let embedded_to = || {
            if self.g.embedded_to.is_empty() {
                let inline_to = Some(vendors::inline_copy_to(&self.g.body[region.len()..]))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| vendors::inline_copy_to(region));
                Cow::Owned(inline_to)
            } else {
                Cow::Borrowed(self.g.embedded_to.as_slice())
            }
        };
        if found.is_empty()
            && vendors::mailer_sender(&self.from_raw)
            && !self.g.embedded_is_list
            && let [only] = &*embedded_to()
            && !excluded.iter().any(|e| e.eq_ignore_ascii_case(only))
        {
            found.push(vendors::Found {
                address: only.clone(),
                diagnostic: text::squash(region, 1024),
            });
        }
        if found.is_empty()
            && let Some(f) = self.fml_notice()
        {
            found.push(f);
        }
        let failed = self.failed_recipients_header();
        if !failed.is_empty() {
            found.retain(|f| failed.iter().any(|a| a.eq_ignore_ascii_case(&f.address)));
            for a in failed {
                if !found.iter().any(|f| f.address.eq_ignore_ascii_case(&a)) {
                    found.push(vendors::Found {
                        address: a,
                        diagnostic: String::new(),
                    });
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        let region_lower = if ascii {
            Cow::Borrowed(&body_lower[..region.len()])
        } else {
            Cow::Owned(region.to_lowercase())
        };
        let delayed = vendors::is_delay(&region_lower, &self.subject);
        // Ipswitch IMail ("X-Mailer: <SMTP32 v8.22>") states the result of
        // its own delivery to its mailboxes: "Unknown user: bob@...".
        let local = self
            .header("x-mailer")
            .is_some_and(|x| x.trim_start().to_ascii_lowercase().starts_with("<smtp32"));
        // The whole notice, squashed: made when a recipient's own words do
        // not settle its reason.
        let whole = std::cell::OnceCell::new();
        let whole = || -> &str { whole.get_or_init(|| text::squash(region, 8192)) };
        // Its first status. Squashing never moves a status token (white
        // space only ever separates tokens), so while the squash cuts
        // nothing (a shorter region) the region itself is read.
        let whole_status = std::cell::OnceCell::new();
        let whole_status = || {
            whole_status
                .get_or_init(|| {
                    if region.len() < 8192 {
                        text::find_status(region)
                    } else {
                        text::find_status(whole())
                    }
                })
                .clone()
        };
        let around = reason::Around::with_raw(&region_lower, region);
        Some(
            found
                .into_iter()
                .map(|f| {
                    let status = text::find_status(&f.diagnostic)
                        .or_else(whole_status)
                        .filter(|s| !s.starts_with('2'));
                    let reply_code = text::find_reply_code(&f.diagnostic);
                    let action = if delayed {
                        Action::Delayed
                    } else {
                        Action::Failed
                    };
                    let ctx = if delayed {
                        reason::Context::Delayed
                    } else if local {
                        reason::Context::Local
                    } else {
                        reason::Context::Failed
                    };
                    // A bare list of addresses: the notice's words say why.
                    let said = if f.diagnostic.trim().is_empty() {
                        whole()
                    } else {
                        f.diagnostic.as_str()
                    };
                    let mut why = reason::decide_with(
                        said,
                        &around,
                        status.as_deref(),
                        reply_code.as_deref(),
                        ctx,
                    );
                    if matches!(why, Reason::OnHold | Reason::Undefined) {
                        let alt = reason::decide(
                            whole(),
                            "",
                            status.as_deref(),
                            reply_code.as_deref(),
                            ctx,
                        );
                        if !matches!(alt, Reason::OnHold | Reason::Undefined) {
                            why = alt;
                        }
                    }
                    RecipientReport {
                        address: Some(f.address),
                        action: Some(action),
                        hard: !delayed
                            && reason::is_hard(why, status.as_deref(), reply_code.as_deref()),
                        status,
                        reply_code,
                        reason: why,
                        diagnostic: Some(f.diagnostic).filter(|d| !d.is_empty()),
                        remote_mta: None,
                    }
                })
                .collect(),
        )
    }
}

/// Appends `t` to the notice's text `dst` as [`push_text`] does, keeping
/// `t` itself, uncopied, when it is the first text.
fn push_body<'a>(dst: &mut Cow<'a, str>, t: Cow<'a, str>) {
    if !dst.is_empty() {
        return push_text(dst.to_mut(), &t);
    }
    let end = t.floor_char_boundary(MAX_TEXT);
    *dst = match t {
        Cow::Borrowed(t) => Cow::Borrowed(&t[..end]),
        Cow::Owned(mut t) => {
            t.truncate(end);
            Cow::Owned(t)
        }
    };
}

fn push_text(dst: &mut String, t: &str) {
    if dst.len() >= MAX_TEXT {
        return;
    }
    let end = t.floor_char_boundary(MAX_TEXT - dst.len());
    if !dst.is_empty() {
        dst.push('\n');
    }
    dst.push_str(&t[..end]);
}

fn plain_report(address: Option<String>, reason: Reason) -> RecipientReport {
    RecipientReport {
        address,
        action: None,
        status: None,
        reply_code: None,
        reason,
        hard: false,
        diagnostic: None,
        remote_mta: None,
    }
}

/// A bounce if any recipient failed, a delay if any is delayed, else a
/// delivery report.
fn kind_of(rs: &[RecipientReport]) -> Kind {
    if rs.iter().any(|r| r.action == Some(Action::Failed)) {
        Kind::Bounce
    } else if rs.iter().any(|r| r.action == Some(Action::Delayed)) {
        Kind::Delay
    } else {
        Kind::DeliveryReport
    }
}
