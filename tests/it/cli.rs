//! The built binary, run the way the README tells a newcomer to run it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::binary::{admin_key, bin, spawn_server};

/// Runs the binary with `args`, which it must refuse: it exits non-zero
/// within 20 s (a `serve` that accepted them would run on, so it is
/// stopped and the test fails instead of hanging); its standard error.
fn refused(cwd: &std::path::Path, args: &[&str]) -> String {
    let mut child = bin()
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} was accepted: still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{args:?}: {status:?}\n{stderr}");
    stderr
}

#[tokio::test]
async fn newcomer_flow_with_default_data_dir() {
    let cwd = tempfile::tempdir().unwrap();

    let mut add = bin()
        .current_dir(cwd.path())
        .args([
            "user",
            "add",
            "admin@example.test",
            "--admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = bin()
        .current_dir(cwd.path())
        .args([
            "token",
            "create",
            "--user",
            "admin@example.test",
            "--name",
            "ci",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.len() > 20, "{key}");
    assert!(
        cwd.path()
            .join("mailtrail-data")
            .join("mailtrail.db")
            .exists(),
        "default data dir is ./mailtrail-data"
    );

    // `mailtrail serve` as the README says; only the port is moved (to 0)
    // so that the test never collides with anything on 8080.
    let mut server = bin()
        .current_dir(cwd.path())
        .arg("serve")
        .env("MAILTRAIL_HTTP", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"from": "admin@example.test", "to": ["friend@example.test"], "subject": "Hi", "text": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
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
        if m["recipients"][0]["status"] == "delivered" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // SIGTERM drains and exits cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
}

#[test]
fn bad_cli_input_fails_clearly() {
    let cwd = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(cwd.path())
        .args(["user", "add", "not an address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EMAIL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = bin()
        .current_dir(cwd.path())
        .args(["token", "create", "--user", "ghost@example.test"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no user"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let stderr = refused(cwd.path(), &["serve", "--log-format", "xml"]);
    assert!(
        stderr.contains("--log-format") && stderr.contains("json"),
        "{stderr}"
    );

    let stderr = refused(cwd.path(), &["serve", "--relay", "ftp://x"]);
    assert!(stderr.contains("relay"), "{stderr}");

    let stderr = refused(cwd.path(), &["serve", "--retention-days", "0"]);
    assert!(
        stderr.contains("retention_days: must be at least 1"),
        "{stderr}"
    );

    let out = bin()
        .current_dir(cwd.path())
        .args(["--db", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sqlite://"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--log-format json`: every line the server logs is one JSON object with
/// its level and fields, what a log collector reads without a parser.
#[test]
fn json_log_lines() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = bin()
        .current_dir(cwd.path())
        .args(["serve", "--log-format", "json"])
        .env("MAILTRAIL_HTTP", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut listening = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut listening)
        .unwrap();
    assert!(listening.contains("http://127.0.0.1:"), "{listening}");
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let out = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logged nothing");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

/// kill -9 right after messages were accepted: after a restart every
/// accepted message is delivered, none is lost.
#[tokio::test]
async fn crash_never_loses_an_accepted_message() {
    let cwd = tempfile::tempdir().unwrap();
    let key = admin_key(cwd.path());

    let env = [("MAILTRAIL_JOB_LEASE_SECS", "2")];
    let (mut server, base) = spawn_server(cwd.path(), &env);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = client
            .post(format!("{base}/api/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({"from": "admin@example.test", "to": [format!("r{i}@example.test"), format!("s{i}@example.test")], "subject": format!("m{i}"), "text": "x"}))
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
    Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status()
        .unwrap();
    let _ = server.wait();

    let (mut server, base) = spawn_server(cwd.path(), &env);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
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
            if m["recipients"]
                .as_array()
                .is_some_and(|rs| rs.len() == 2 && rs.iter().all(|r| r["status"] == "delivered"))
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "message lost or stuck after a crash: {m}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}
