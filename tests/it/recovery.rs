//! Crash recovery of the delivery queue, with the real binary killed by
//! SIGKILL in the middle of a large sandbox send.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;

use crate::support::binary::{admin_key, spawn_server};

/// Messages and recipients per message of the send.
const MESSAGES: usize = 4;
const RECIPIENTS: usize = 400;

/// The node's SQLite database in the default data dir of `cwd`.
async fn database(cwd: &std::path::Path) -> sqlx::SqlitePool {
    let path = cwd.join("mailtrail-data").join("mailtrail.db");
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

/// kill -9 during a large sandbox send, with the default lease (51
/// minutes): after a restart on the same data dir every recipient is
/// delivered within seconds (the node releases the jobs its previous life
/// held), and each has exactly one sandbox copy (the copy and its
/// `delivered` event commit together).
#[tokio::test]
async fn restart_after_kill_9_finishes_at_once_with_one_copy_each() {
    let cwd = tempfile::tempdir().unwrap();
    let key = admin_key(cwd.path());
    let env = [("MAILTRAIL_WORKERS", "8")];
    let (server, base) = spawn_server(cwd.path(), &env);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for m in 0..MESSAGES {
        let to: Vec<String> = (0..RECIPIENTS)
            .map(|i| format!("r{m}-{i}@example.test"))
            .collect();
        let r = client
            .post(format!("{base}/api/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({"from": "admin@example.test", "to": to, "subject": format!("m{m}"), "text": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Kill once the first copies are filed, while most jobs are still
    // queued or in flight.
    let db = database(cwd.path()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let filed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sandbox_copies")
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n");
        if filed > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no copy filed in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status()
        .unwrap();
    let mut server = server;
    let _ = server.wait();
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE locked_until > ?")
        .bind(now_ms)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert!(
        held > 0,
        "the kill came after the last claim: the test proves nothing"
    );

    let started = Instant::now();
    let (mut server, base) = spawn_server(cwd.path(), &env);
    let deadline = started + Duration::from_secs(30);
    for id in &ids {
        loop {
            let m: Value = client
                .get(format!("{base}/api/v1/messages/{id}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let done = m["recipients"].as_array().is_some_and(|rs| {
                rs.len() == RECIPIENTS && rs.iter().all(|r| r["status"] == "delivered")
            });
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{held} jobs held at the kill still not delivered {:?} after the restart",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());

    let copies: Vec<(i64, i64)> =
        sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT recipient_id) AS r FROM sandbox_copies")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("n"), r.get("r")))
            .collect();
    assert_eq!(
        copies,
        vec![(
            (MESSAGES * RECIPIENTS) as i64,
            (MESSAGES * RECIPIENTS) as i64
        )],
        "(copies, recipients with a copy): exactly one copy per recipient"
    );
    let node = std::fs::read_to_string(cwd.path().join("mailtrail-data").join("node-id")).unwrap();
    assert!(uuid::Uuid::try_parse(node.trim()).is_ok(), "{node:?}");
}

/// `user add` and `token create` against the database at `db`; the key.
fn admin_key_on(db: &str) -> String {
    use std::io::Write;
    let mut add = crate::support::binary::bin()
        .args([
            "--db",
            db,
            "user",
            "add",
            "admin@example.test",
            "--admin",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = crate::support::binary::bin()
        .args([
            "--db",
            db,
            "token",
            "create",
            "--user",
            "admin@example.test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Two nodes, each with its own data dir, share one PostgreSQL database;
/// one is killed with SIGKILL while it holds jobs. The other finishes them
/// once their lease ends, and every recipient has exactly one sandbox copy.
#[tokio::test]
async fn two_nodes_on_postgres_one_killed_mid_batch() {
    let (db_url, _) = crate::support::fresh_pg_database().await;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let key = admin_key_on(&db_url);
    let env = [
        ("MAILTRAIL_DB", db_url.as_str()),
        ("MAILTRAIL_WORKERS", "8"),
        ("MAILTRAIL_JOB_LEASE_SECS", "3"),
    ];
    let (a, base_a) = spawn_server(dir_a.path(), &env);
    let (mut b, _) = spawn_server(dir_b.path(), &env);
    let node_a = std::fs::read_to_string(dir_a.path().join("mailtrail-data").join("node-id"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    for m in 0..MESSAGES {
        let to: Vec<String> = (0..RECIPIENTS)
            .map(|i| format!("r{m}-{i}@example.test"))
            .collect();
        let r = client
            .post(format!("{base_a}/api/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({"from": "admin@example.test", "to": to, "subject": format!("m{m}"), "text": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE locked_by = $1")
            .bind(&node_a)
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n");
        if held > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "node A claimed nothing in 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Command::new("kill")
        .args(["-KILL", &a.id().to_string()])
        .status()
        .unwrap();
    let mut a = a;
    let _ = a.wait();
    let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE locked_by = $1")
        .bind(&node_a)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert!(
        held > 0,
        "node A held no job at the kill: the test proves nothing"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs")
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n");
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} jobs left 30 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let row =
        sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT recipient_id) AS r FROM sandbox_copies")
            .fetch_one(&db)
            .await
            .unwrap();
    let total = (MESSAGES * RECIPIENTS) as i64;
    assert_eq!(
        (row.get::<i64, _>("n"), row.get::<i64, _>("r")),
        (total, total),
        "(copies, recipients with a copy): exactly one copy per recipient"
    );
    let delivered: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM recipients WHERE status = 'delivered'")
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n");
    assert_eq!(delivered, total);
    Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status()
        .unwrap();
    assert!(b.wait().unwrap().success());
}
