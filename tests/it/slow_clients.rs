//! Slow and idle clients: half-sent requests neither exhaust the server
//! nor keep the tracking endpoints and `/healthz` from answering, and are
//! closed after the header timeout.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Db, TestApp};

/// A GET on a fresh connection (no keep-alive reuse), retried while the
/// server turns connections away, for at most `within`.
async fn get_fresh(app: &TestApp, path: &str, within: Duration) -> reqwest::Response {
    let deadline = Instant::now() + within;
    loop {
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        match c.get(app.url(path)).send().await {
            Ok(res) => return res,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{path} did not answer within {within:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_leave_room_for_tracking_and_are_closed() {
    // 200 connections, 50 of them kept for tracking; the rest of a request
    // must come within 6 s (2 s on a reserve connection).
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.http_max_connections = 200;
        s.http_tracking_reserve = 50;
        s.http_header_timeout_secs = 6;
    })
    .await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..2000 {
        let Ok(mut s) = TcpStream::connect(app.addr).await else {
            continue;
        };
        // A request line and one header, never the blank line that ends them.
        let _ = s
            .write_all(b"GET /api/v1/messages HTTP/1.1\r\nHost: x\r\n")
            .await;
        slow.push(s);
    }
    assert!(slow.len() > 1500, "only {} connections opened", slow.len());
    let opened = started.elapsed();
    assert!(
        opened < Duration::from_secs(5),
        "opening took {opened:?}; the checks below assume under 5 s"
    );

    // Every slot is taken by a slow client; the reserve's frees after 2 s,
    // the others' after 6 s. In between, the pixel and /healthz answer,
    // while other paths are turned away on reserve connections.
    let pixel = get_fresh(&app, "/t/o/not-a-token", Duration::from_secs(4)).await;
    assert_eq!(pixel.status(), StatusCode::OK);
    assert_eq!(pixel.headers()["content-type"], "image/gif");
    let health = get_fresh(&app, "/healthz", Duration::from_secs(2)).await;
    assert_eq!(health.status(), StatusCode::OK);
    if started.elapsed() < Duration::from_secs(5) {
        let api = get_fresh(&app, "/api/v1/messages", Duration::from_secs(1)).await;
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.headers().contains_key("retry-after"));
    }

    // After the header timeout every slow connection is closed by the
    // server: reading gives end of file or a reset, never a wait.
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(started.elapsed())).await;
    let mut still_open = 0;
    for s in &mut slow {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                // A 408 or other bytes before the close: read on.
                Ok(Ok(_)) => continue,
                Err(_) => {
                    still_open += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(
        still_open, 0,
        "slow connections still open after the timeout"
    );
    // And the server serves everything again.
    let api = get_fresh(&app, "/healthz", Duration::from_secs(1)).await;
    assert_eq!(api.status(), StatusCode::OK);
    let res = get_fresh(&app, "/login", Duration::from_secs(1)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_ends_the_request() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.http_body_timeout_secs = 1).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    // Headers complete, 10 of the 100 body bytes announced, then silence.
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a%40",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server still waits for the body after 5 s"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}, before the timeout"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4"),
        "not a client error: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.http_header_timeout_secs = 1).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Kept alive, then idle: closed once the timer for the next request's
    // headers runs out.
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(4), s.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the idle connection is still open after 4 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
}
