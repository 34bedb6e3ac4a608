//! The client against a real Postfix peer: `smtp-sink`, Postfix's test SMTP
//! server. It offers PIPELINING, DSN and AUTH, and its dump files record
//! the MAIL and RCPT parameters exactly as received, so the DSN request can
//! be checked on the wire of a real implementation. These tests fail, saying
//! so, where Postfix is not installed; `scripts/test.sh` installs it.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailtrail_domain::{EmailAddress, Reason};
use mailtrail_smtp::{Envelope, Outcome, Smarthost, SmarthostOptions, Timeouts, Transport};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// A running smtp-sink, killed on drop.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Starts smtp-sink with `flags` on a free loopback port, dumping each
/// message into a temporary directory. Panics, naming what is missing,
/// when Postfix is not installed: a missing peer never passes silently.
fn start_sink(flags: &[&str]) -> Option<Sink> {
    assert!(
        Path::new(SMTP_SINK).exists(),
        "{SMTP_SINK} is missing: install Debian's postfix package (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    // smtp-sink drops to an unprivileged user when run as root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(SMTP_SINK);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let template = format!("{}/%M.", dir.path().display());
        cmd.args(["-d", &template])
            .args(flags)
            .arg(format!("127.0.0.1:{port}"))
            .arg("10")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Another test's listener may have taken the port between
                // the probe bind and smtp-sink's: then the connect reached
                // it, and smtp-sink, unable to bind, exits. Only a sink
                // still running owns the port.
                std::thread::sleep(Duration::from_millis(100));
                if child.try_wait().unwrap().is_none() {
                    return Some(Sink { child, port, dir });
                }
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break; // port taken meanwhile: try another
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("smtp-sink did not start");
}

impl Sink {
    /// The dumped messages (header block smtp-sink adds, then the message).
    fn dumps(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        out.sort();
        out
    }

    fn relay(&self, userinfo: &str) -> Smarthost {
        Smarthost::from_url(
            &format!("smtp://{userinfo}127.0.0.1:{}", self.port),
            SmarthostOptions {
                helo_name: "client.test".into(),
                timeouts: Timeouts::uniform(Duration::from_secs(10)),
                ..SmarthostOptions::default()
            },
        )
        .unwrap()
    }
}

fn env(to: &str) -> Envelope {
    Envelope {
        return_path: "bounces+t0k@bounce.test".into(),
        recipient: EmailAddress::parse(to).unwrap(),
        envid: Some("msg-1 r=2".into()),
    }
}

const MESSAGE: &[u8] = b"Subject: real peer\n\n.a line with a leading dot\nend\n";

#[tokio::test]
async fn dsn_request_and_reuse_on_a_real_postfix_peer() {
    let Some(sink) = start_sink(&[]) else { return };
    let t = sink.relay("user:pa%40ss@");
    for to in ["bob@example.test", "carol@example.test"] {
        let out = t.send(&env(to), MESSAGE).await;
        assert!(
            matches!(&out, Outcome::Accepted { reply, .. } if reply.code == 250),
            "{out:?}"
        );
    }
    t.close().await;
    // Dumps are written when the transaction ends; allow a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.dumps().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dumps = sink.dumps();
    assert_eq!(dumps.len(), 2, "{dumps:?}");
    for d in &dumps {
        assert!(
            d.contains("X-Mail-Args: <bounces+t0k@bounce.test> RET=HDRS ENVID=msg-1+20r+3D2"),
            "{d}"
        );
        assert!(
            d.contains("NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;"),
            "{d}"
        );
        assert!(d.contains("X-Helo-Args: client.test"), "{d}");
        // Postfix removed our dot-stuffing: the line is back as written.
        assert!(d.contains("\n.a line with a leading dot\n"), "{d}");
    }
    let both = dumps.concat();
    assert!(both.contains("ORCPT=rfc822;bob@example.test"));
    assert!(both.contains("ORCPT=rfc822;carol@example.test"));
}

#[tokio::test]
async fn real_peer_refusals_map_to_outcomes() {
    // -f: hard-reject RCPT; the session stays usable.
    let Some(sink) = start_sink(&["-f", "RCPT"]) else {
        return;
    };
    let out = sink.relay("").send(&env("bob@example.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_ne!(out.reason(), Reason::Delivered);

    // -r: soft-reject RCPT.
    let Some(sink) = start_sink(&["-r", "RCPT"]) else {
        return;
    };
    let out = sink.relay("").send(&env("bob@example.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: Some(r), .. } if r.is_transient()),
        "{out:?}"
    );

    // -q: hang up at DATA.
    let Some(sink) = start_sink(&["-q", "DATA"]) else {
        return;
    };
    let out = sink.relay("").send(&env("bob@example.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: None, .. }),
        "{out:?}"
    );
}
