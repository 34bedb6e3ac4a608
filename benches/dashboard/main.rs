//! Emails page benchmark: 1,000,000 messages and 3,000,000 events in
//! SQLite, the dashboard's Emails page filtered by a status, timed as
//! served by the real server over loopback (an upper bound of server time).
//!
//! Then the live feed: with that database behind the server, a browser's
//! Server-Sent Events stream is open while 100 recipients' pixels are
//! loaded one after the other; for each hit, the time from sending the
//! request to the event arriving on the stream, against the hit's own
//! round trip (answered once its event is durable) as the reference.
//!
//! Run: `cargo bench --bench dashboard` (release build). The generated
//! database is kept in `target/dashboard-bench-v2-N/` and reused by later runs;
//! `DASHBOARD_BENCH_MESSAGES` changes the size (a new directory per size).

use std::time::{Duration, Instant};

use mailtrail::config::Settings;
use mailtrail::startup::{Application, open_store};
use mailtrail_domain::EmailAddress;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, QueryBuilder, Sqlite};
use uuid::{NoContext, Timestamp, Uuid};

const EMAIL: &str = "bench@example.test";
const PASSWORD: &str = "bench password";
/// Requests timed per filter (after a warm-up).
const SAMPLES: usize = 200;
const WARMUP: usize = 20;
/// Messages per insert statement (16 columns each: within SQLite's 32766
/// bound parameters).
const BATCH: usize = 500;

/// The status of message `i`, and its events after `queued`: three events
/// per message in all.
fn shape(i: usize) -> (&'static str, [(&'static str, Option<&'static str>); 2]) {
    // Ten complaints in a million: the rare status that walking the
    // messages table newest first would need the whole table to find.
    if i % 100_000 == 77 {
        return ("complained", [("delivered", None), ("complained", None)]);
    }
    match i % 100 {
        0..=2 => ("failed", [("deferred", None), ("failed", None)]),
        3..=4 => ("deferred", [("deferred", None), ("deferred", None)]),
        5..=14 => (
            "opened_by_machine",
            [("delivered", None), ("opened", Some("machine"))],
        ),
        15..=34 => ("opened", [("delivered", None), ("opened", Some("human"))]),
        35..=39 => ("clicked", [("delivered", None), ("clicked", Some("human"))]),
        40 => ("replied", [("delivered", None), ("replied", None)]),
        41 => ("read", [("delivered", None), ("read_receipt", None)]),
        _ => ("delivered", [("sent", None), ("delivered", None)]),
    }
}

/// An event to write: id, recipient, message, kind, time (ms), opener.
type EventRow = (Uuid, Uuid, Uuid, &'static str, u64, Option<&'static str>);

fn v7(ms: u64) -> Uuid {
    Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        ms / 1000,
        ((ms % 1000) * 1_000_000) as u32,
    ))
}

async fn generate(db: &std::path::Path, org: Uuid, user: Uuid, n: usize) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .pragma("journal_mode", "WAL")
        .pragma("synchronous", "OFF")
        .connect()
        .await?;
    // 30 days back from now, evenly spread.
    let end_ms = (time::OffsetDateTime::now_utc().unix_timestamp() as u64) * 1000;
    let span_ms: u64 = 30 * 24 * 3600 * 1000;
    let start_ms = end_ms - span_ms;
    let step = span_ms / n as u64;
    let content = r#"{"text":"Hello, this is a benchmark message.","html":null,"headers":[],"attachments":[]}"#;
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let rows: Vec<(usize, u64, Uuid, Uuid)> = (i..end)
            .map(|k| {
                let ms = start_ms + k as u64 * step;
                (k, ms, v7(ms), v7(ms))
            })
            .collect();
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, org_id, user_id, message_id, from_address, from_name, \
             reply_to, subject, content, read_receipt, track_opens, track_clicks, metadata, \
             idempotency_key, created_at) ",
        );
        qb.push_values(&rows, |mut b, (k, ms, id, _)| {
            b.push_bind(*id)
                .push_bind(org)
                .push_bind(user)
                .push_bind(format!("{id}@example.test"))
                .push_bind("sales@example.test")
                .push_bind(Option::<String>::None)
                .push_bind(Option::<String>::None)
                .push_bind(format!("Offer {k} for customer {}", k % 5000))
                .push_bind(content)
                .push_bind(true)
                .push_bind(true)
                .push_bind(true)
                .push_bind("{}")
                .push_bind(Option::<String>::None)
                .push_bind(*ms as i64);
        });
        qb.build().execute(&mut *tx).await?;
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO recipients (id, message_id, org_id, position, address, address_norm, \
             kind, status, updated_at, opens, machine_opens, clicks) ",
        );
        qb.push_values(&rows, |mut b, (k, ms, id, rid)| {
            let (status, _) = shape(*k);
            let address = format!("customer{}@example{}.test", k % 50_000, k % 100);
            b.push_bind(*rid)
                .push_bind(*id)
                .push_bind(org)
                .push_bind(0i64)
                .push_bind(address.clone())
                .push_bind(address)
                .push_bind("to")
                .push_bind(status)
                .push_bind(*ms as i64)
                .push_bind(i64::from(matches!(
                    status,
                    "opened" | "clicked" | "replied" | "read"
                )))
                .push_bind(i64::from(status == "opened_by_machine"))
                .push_bind(i64::from(status == "clicked"));
        });
        qb.build().execute(&mut *tx).await?;
        let events: Vec<EventRow> = rows
            .iter()
            .flat_map(|(k, ms, id, rid)| {
                let (_, rest) = shape(*k);
                let mut v = vec![(v7(*ms), *rid, *id, "queued", *ms, None)];
                for (j, (kind, opener)) in rest.iter().enumerate() {
                    let at = ms + 1000 * (j as u64 + 1);
                    v.push((v7(at), *rid, *id, *kind, at, *opener));
                }
                v
            })
            .collect();
        for chunk in events.chunks(BATCH * 2) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, opener, reason, data) ",
            );
            qb.push_values(chunk, |mut b, (eid, rid, id, kind, at, opener)| {
                b.push_bind(*eid)
                    .push_bind(*rid)
                    .push_bind(*id)
                    .push_bind(org)
                    .push_bind(*kind)
                    .push_bind(*at as i64)
                    .push_bind(*opener)
                    .push_bind(Option::<String>::None)
                    .push_bind("{}");
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        i = end;
        if i % 100_000 == 0 {
            eprintln!("  {i} messages written ({:.0?})", started.elapsed());
        }
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("DASHBOARD_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("dashboard-bench-v2-{n}"));
    let settings = Settings {
        data_dir: dir.clone(),
        http: "127.0.0.1:0".parse()?,
        ..Settings::default()
    };
    let done_marker = dir.join("generated");
    if !done_marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let store = open_store(&settings).await?;
        let org = store.ensure_organisation("default").await?;
        let hash = mailtrail_domain::credentials::hash_password(PASSWORD)?;
        let user = store
            .create_user(org.id, &EmailAddress::parse(EMAIL)?, &hash, true)
            .await?;
        drop(store);
        eprintln!(
            "generating {n} messages, {} events in {}",
            n * 3,
            dir.display()
        );
        let t = Instant::now();
        generate(&dir.join("mailtrail.db"), org.id, user.id, n).await?;
        eprintln!("generated in {:.1?}", t.elapsed());
        std::fs::write(&done_marker, b"ok")?;
    }
    // An API key for the live-feed part (a new one each run).
    let api_key = {
        let store = open_store(&settings).await?;
        let user = store
            .user_by_email(&EmailAddress::parse(EMAIL)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("bench user missing"))?;
        let (key, prefix) = mailtrail_domain::credentials::generate_api_key();
        store
            .create_api_key(&mailtrail_store::NewApiKey {
                id: Uuid::now_v7(),
                user_id: user.id,
                name: "bench".into(),
                key_hash: mailtrail_domain::credentials::hash_api_key(&key),
                prefix,
            })
            .await?;
        key
    };
    let app = Application::build(settings).await?;
    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client.get(format!("{base}/login")).send().await?;
    let login_cookie = cookie_of(&login, "mailtrail_login_csrf").expect("login cookie");
    let page = login.text().await?;
    let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let csrf = &page[at..at + page[at..].find('"').expect("end")];
    let res = client
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, login_cookie)
        .form(&[("email", EMAIL), ("password", PASSWORD), ("csrf", csrf)])
        .send()
        .await?;
    let session = cookie_of(&res, "mailtrail_session").expect("signed in");

    println!(
        "Emails page, first page (50 rows), {n} messages, {} events, SQLite",
        n * 3
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9}",
        "query", "p50 ms", "p95 ms", "max ms"
    );
    let mut worst_status_p95 = Duration::ZERO;
    for q in [
        "/",
        "/?status=delivered",
        "/?status=opened",
        "/?status=failed",
        "/?status=replied",
        "/?status=failed&status=replied",
        "/?status=complained",
        "/?status=unsubscribed",
        "/?status=opened&status=complained",
        "/?subject=Offer+123456+",
        "/?recipient=customer4242%40",
        "/?subject=no+such+subject",
    ] {
        let mut times = Vec::with_capacity(SAMPLES);
        for k in 0..WARMUP + SAMPLES {
            let t = Instant::now();
            let res = client
                .get(format!("{base}{q}"))
                .header(reqwest::header::COOKIE, &session)
                .send()
                .await?;
            assert_eq!(res.status(), 200, "{q}");
            let body = res.text().await?;
            let took = t.elapsed();
            // Nobody unsubscribed, no such subject: the empty state.
            assert_eq!(
                body.contains("class=\"message\""),
                !q.contains("unsubscribed") && !q.contains("no+such"),
                "{q}: rows"
            );
            if k >= WARMUP {
                times.push(took);
            }
        }
        times.sort();
        let p95 = percentile(&times, 0.95);
        if q.contains("status=") {
            worst_status_p95 = worst_status_p95.max(p95);
        }
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2}",
            q,
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    println!(
        "worst p95 of a status filter: {:.2} ms (target <= 50 ms): {}",
        worst_status_p95.as_secs_f64() * 1e3,
        if worst_status_p95 <= Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        }
    );
    live_feed(&client, &base, &session, &api_key).await?;
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// Recipients whose pixel is loaded once each.
const LIVE_HITS: usize = 100;
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/120.0.0.0 Safari/537.36";

/// The live-feed latency: see the module comment.
async fn live_feed(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    api_key: &str,
) -> anyhow::Result<()> {
    let to: Vec<String> = (0..LIVE_HITS)
        .map(|i| format!("live{i}@example.test"))
        .collect();
    let res = client
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(api_key)
        .json(&serde_json::json!({
            "from": EMAIL,
            "to": to,
            "subject": "Live feed benchmark",
            "html": "<p>Hello</p>",
            "read_receipt": false,
        }))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 202, "send: {}", res.text().await?);
    let sent: serde_json::Value = res.json().await?;
    let wanted: std::collections::HashSet<String> = sent["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    // The sandbox's copies, each with its pixel.
    let mut pixels = Vec::new();
    for _ in 0..600 {
        let list: serde_json::Value = client
            .get(format!("{base}/api/v1/sandbox/messages?limit=1000"))
            .bearer_auth(api_key)
            .send()
            .await?
            .json()
            .await?;
        pixels = list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                c["recipient_id"]
                    .as_str()
                    .is_some_and(|id| wanted.contains(id))
            })
            .filter_map(|c| pixel_of(c["raw"].as_str()?))
            .collect();
        if pixels.len() == LIVE_HITS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        pixels.len() == LIVE_HITS,
        "{} of {LIVE_HITS} sandbox copies with a pixel",
        pixels.len()
    );
    // Past the window in which an open is a machine's (no person reads a
    // mail within two seconds of its sending).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let mut stream = client
        .get(format!("{base}/live/events"))
        .header(reqwest::header::COOKIE, session)
        .send()
        .await?;
    anyhow::ensure!(stream.status() == 200, "live feed: {}", stream.status());
    let mut buf = String::new();
    let mut feed = Vec::with_capacity(LIVE_HITS);
    let mut round_trip = Vec::with_capacity(LIVE_HITS);
    for url in &pixels {
        let t = Instant::now();
        let res = client
            .get(url)
            .header(reqwest::header::USER_AGENT, CHROME)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "pixel: {}", res.status());
        res.bytes().await?;
        round_trip.push(t.elapsed());
        // Until one event block has arrived.
        loop {
            if let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: event") {
                    break;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
                .await
                .map_err(|_| anyhow::anyhow!("no feed event within 5 s of a hit"))??
                .ok_or_else(|| anyhow::anyhow!("the live feed ended"))?;
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
        feed.push(t.elapsed());
    }
    feed.sort();
    round_trip.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("Live feed, {LIVE_HITS} pixel hits, each awaited on the SSE stream");
    println!("{:<44} {:>9} {:>9} {:>9}", "", "p50 ms", "p95 ms", "max ms");
    for (what, times) in [
        ("hit answered (event durable): reference", &round_trip),
        ("hit sent -> event in the browser's stream", &feed),
    ] {
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2}",
            what,
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.95)),
            ms(times.last().copied().unwrap_or_default())
        );
    }
    let p95 = percentile(&feed, 0.95);
    println!(
        "feed p95 / reference p95: {:.2}; feed p95 {:.2} ms (target <= 100 ms): {}",
        ms(p95) / ms(percentile(&round_trip, 0.95)).max(1e-3),
        ms(p95),
        if p95 <= Duration::from_millis(100) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

/// The pixel URL in a copy's HTML part.
fn pixel_of(raw: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    let html = parsed.body_html(0)?;
    let at = html.find("/t/o/")?;
    let start = html[..at].rfind("\"")? + 1;
    let end = at + html[at..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}
