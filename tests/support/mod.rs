//! The test harness: [`TestApp`] starts the real server on 127.0.0.1:0
//! with a temporary SQLite database or a fresh PostgreSQL database.

#![allow(dead_code)]

pub mod binary;
pub mod dovecot;
pub mod pg_cluster;
pub mod postfix;

use std::net::SocketAddr;
use std::time::Duration;

use mailtrail::config::Settings;
use mailtrail::startup::Application;
use mailtrail_domain::EmailAddress;
use mailtrail_store::NewApiKey;
use mailtrail_store::prelude::*;
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server and an API key for its admin user.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The SMTP submission listeners (STARTTLS, implicit TLS), when on.
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
    pub key: String,
    pub client: reqwest::Client,
    pub store: std::sync::Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pg_db: Option<String>,
    db_url: Option<String>,
}

/// The PostgreSQL server the tests use.
pub fn postgres_url() -> String {
    std::env::var("MAILTRAIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn fresh_pg_database() -> (String, String) {
    use sqlx::Connection;
    let admin = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("these tests need PostgreSQL at {admin} (set MAILTRAIL_TEST_POSTGRES_URL; scripts/test.sh starts it): {e}")
    });
    let name = format!("mailtrail_it_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin.clone());
    (format!("{base}/{name}"), name)
}

impl TestApp {
    /// A sandbox server on SQLite.
    pub async fn spawn() -> Self {
        Self::spawn_with(Db::Sqlite, |_| {}).await
    }

    /// A server on `db`, with settings adjusted by `configure`.
    pub async fn spawn_with(db: Db, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings {
            data_dir: dir.path().join("data"),
            http: "127.0.0.1:0".parse().unwrap(),
            retry_initial_secs: 1,
            retry_max_delay_secs: 2,
            workers: 4,
            ..Settings::default()
        };
        let mut pg_db = None;
        if db == Db::Postgres {
            let (url, name) = fresh_pg_database().await;
            settings.db = Some(mailtrail::config::Secret::new(url));
            pg_db = Some(name);
        }
        configure(&mut settings);
        let db_url = settings.db.as_ref().map(|d| d.expose().to_owned());
        let app = Application::build(settings.clone())
            .await
            .expect("build app");
        let addr = app.addr();
        let submission = app.submission_addr(false);
        let submissions = app.submission_addr(true);
        let store = mailtrail::startup::open_store(&settings)
            .await
            .expect("store");
        let key = create_admin(&store, "admin@example.test").await;
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            submission,
            submissions,
            key,
            client: reqwest::Client::new(),
            store,
            dir,
            stop: Some(tx),
            handle: Some(handle),
            pg_db,
            db_url,
        }
    }

    /// The database URL, when not the default SQLite.
    pub fn db_url(&self) -> Option<String> {
        self.db_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Polls the message until every recipient's status satisfies `done`.
    pub async fn wait_for(
        &self,
        id: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (code, msg) = self.get(&format!("/api/v1/messages/{id}")).await;
            assert_eq!(code, 200, "{msg}");
            let all = msg["recipients"]
                .as_array()
                .is_some_and(|rs| rs.iter().all(|r| done(r["status"].as_str().unwrap_or(""))));
            if all {
                return msg;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for statuses: {msg:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (draining) and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(name) = self.pg_db.take() {
            // Best effort: a stray test database is harmless and easy to spot.
            let admin = postgres_url();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        use sqlx::Connection;
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut c)
                            .await;
                        }
                    });
                }
            });
        }
    }
}

/// Creates an admin user (unless it exists, as when two nodes share a
/// database) and an API key, the way the CLI does.
pub async fn create_admin(store: &std::sync::Arc<dyn Store>, email: &str) -> String {
    let org = store.ensure_organisation("default").await.expect("org");
    let email = EmailAddress::parse(email).unwrap();
    let user = match store.user_by_email(&email).await.expect("user lookup") {
        Some(u) => u,
        None => {
            let hash =
                mailtrail_domain::credentials::hash_password("correct horse battery").unwrap();
            store
                .create_user(org.id, &email, &hash, true)
                .await
                .expect("user")
        }
    };
    api_key_for(store, user.id).await
}

pub async fn api_key_for(store: &std::sync::Arc<dyn Store>, user_id: Uuid) -> String {
    let (key, prefix) = mailtrail_domain::credentials::generate_api_key();
    store
        .create_api_key(&NewApiKey {
            id: Uuid::now_v7(),
            user_id,
            name: "test".into(),
            key_hash: mailtrail_domain::credentials::hash_api_key(&key),
            prefix,
        })
        .await
        .expect("key");
    key
}

/// The address in a message's Return-Path header, without brackets.
pub fn return_path(raw: &str) -> String {
    raw.lines()
        .find_map(|l| l.strip_prefix("Return-Path:"))
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .unwrap_or_default()
}
