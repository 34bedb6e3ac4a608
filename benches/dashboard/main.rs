//! Emails page benchmark: 1,000,000 messages and 3,000,000 events in
//! SQLite, the dashboard's Emails page filtered by a status, timed as
//! served by the real server over loopback (an upper bound of server time).
//!
//! Run: `cargo bench --bench dashboard` (release build). The generated
//! database is kept in `target/dashboard-bench/` and reused by later runs;
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
        .join(format!("dashboard-bench-{n}"));
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
        let hash = mailtrail::password::hash(PASSWORD)?;
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
            assert!(body.contains("class=\"message\""), "{q}: no rows");
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
    let _ = stop.send(());
    server.await??;
    Ok(())
}
