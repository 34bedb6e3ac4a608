//! PostgreSQL restarted under load: sends and pixel hits go on while the
//! database server stops and starts again. `/healthz` says 503 while it is
//! down; the server reconnects by itself; every message the API accepted
//! is kept and delivered, and every pixel hit that was answered is an
//! event (the journal keeps it until the database is back).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mailtrail_domain::Purpose;
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use crate::support::pg_cluster::PgCluster;
use crate::support::{Db, TestApp};
use crate::tracking::{server_keyring, sign};

/// Polls `/healthz` until it answers `want`, for at most `secs`.
async fn healthz_becomes(app: &TestApp, want: u16, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = app.client.get(app.url("/healthz")).send().await
            && r.status().as_u16() == want
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load_loses_nothing_accepted() {
    let pg = Arc::new(PgCluster::start());
    let url = pg.url();
    let app = Arc::new(
        TestApp::spawn_with(Db::Sqlite, move |s| {
            s.db = Some(mailtrail::config::Secret::new(url));
        })
        .await,
    );

    // A first message gives the recipient whose pixel the load hits.
    let (code, first) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "admin@example.test", "to": ["pixel@example.test"],
                    "subject": "pixel", "html": "<p>hi</p>"}),
        )
        .await;
    assert_eq!(code, 202, "{first}");
    let recipient: Uuid = first["recipients"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let keyring = server_keyring(&app.dir.path().join("data"));
    let pixel = format!("/t/o/{}", sign(&keyring, recipient, Purpose::Open, 0, None));

    let stop = Arc::new(AtomicBool::new(false));
    let answered_hits = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    // Two senders; every 202 is a promise the test checks afterwards.
    let accepted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for s in 0..2 {
        let (app, stop, accepted) = (app.clone(), stop.clone(), accepted.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = app
                    .client
                    .post(app.url("/api/v1/messages"))
                    .bearer_auth(&app.key)
                    .json(&json!({"from": "admin@example.test",
                                  "to": [format!("s{s}-{i}@example.test")],
                                  "subject": "load", "text": "x"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        accepted
                            .lock()
                            .unwrap()
                            .push(v["id"].as_str().unwrap().to_owned());
                    }
                    // Refused while the database is away: no promise made.
                    Ok(r) => assert!(r.status().is_server_error(), "{}", r.status()),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // Four pixel loaders: an answered GIF is a promise too.
    for _ in 0..4 {
        let (app, stop, hits, pixel) = (
            app.clone(),
            stop.clone(),
            answered_hits.clone(),
            pixel.clone(),
        );
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(r) = app.client.get(app.url(&pixel)).send().await
                    && r.status() == 200
                    && r.bytes().await.is_ok_and(|b| b.len() == 43)
                {
                    hits.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = accepted.lock().unwrap().len();
    assert!(before > 0, "nothing was accepted before the restart");
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.stop()).await.unwrap();
    assert!(
        healthz_becomes(&app, 503, 10).await,
        "/healthz did not say 503 while PostgreSQL was down"
    );
    let hits_while_down = answered_hits.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hits_during = answered_hits.load(Ordering::Relaxed) - hits_while_down;
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.start_again())
        .await
        .unwrap();
    assert!(
        healthz_becomes(&app, 200, 60).await,
        "the server did not reconnect to PostgreSQL within 60 s"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let hits = answered_hits.load(Ordering::Relaxed);
    assert!(
        accepted.len() > before,
        "no message was accepted after the restart"
    );
    assert!(
        hits_during > 0,
        "no pixel hit was answered while PostgreSQL was down"
    );

    // Every accepted message is there and its copy is delivered (the
    // copies refused while the database was away wait for their retry).
    let db = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let ids: Vec<Uuid> = accepted.iter().map(|id| id.parse().unwrap()).collect();
    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(stored as usize, ids.len(), "accepted messages were lost");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let delivered: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM events WHERE message_id = ANY($1) AND kind = 'delivered'",
        )
        .bind(&ids)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
        if delivered as usize >= ids.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{delivered} of {} accepted messages delivered 240 s after the restart",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every answered hit is an event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let opened: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM events WHERE recipient_id = $1 AND kind = 'opened'",
        )
        .bind(recipient)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
        if opened as usize >= hits {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{hits} pixel hits answered, {opened} opened events stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await;
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("the load tasks still hold the app"),
    }
}
