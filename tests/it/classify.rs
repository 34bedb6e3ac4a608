//! `mailtrail classify`: the offline contract other tools rely on, run as
//! the built binary on files of the public bounce corpus and on a temporary
//! directory holding a person's message and an unreadable path.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::binary::bin;

/// The shared corpora folder; a missing folder fails the test loudly.
fn corpora() -> PathBuf {
    let dir = std::env::var_os("MAILTRAIL_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"));
    assert!(
        dir.join("bounces/sisimai/bsd").is_dir(),
        "corpus missing: {} (set MAILTRAIL_CORPORA to the shared/corpora folder)",
        dir.join("bounces/sisimai/bsd").display()
    );
    dir
}

/// The lines of a run that must have succeeded.
fn succeeded(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "classify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn classifies_corpus_files_as_json_lines_with_file_first() {
    let bsd = corpora().join("bounces/sisimai/bsd");
    let files = ["lhost-postfix-01.eml", "lhost-qmail-01.eml", "arf-01.eml"];
    let out = bin()
        .arg("classify")
        .arg("--json")
        .args(files.iter().map(|f| bsd.join(f)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "classify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.lines().all(|l| l.starts_with("{\"file\":")),
        "\"file\" must come first: {text}"
    );
    let got = lines(&out.stdout);
    assert_eq!(got.len(), 3, "one line per file: {text}");
    for (line, f) in got.iter().zip(files) {
        assert_eq!(line["file"], bsd.join(f).to_string_lossy().as_ref());
    }
    let postfix = &got[0];
    assert_eq!(postfix["kind"], "bounce");
    let r = &postfix["recipients"][0];
    // The address as the sender gave it (Original-Recipient, RFC 3464
    // section 2.3.1), not where the relay forwarded it (Final-Recipient:
    // r@p351355.pool.example.ne.jp): the one a bounce is correlated on.
    assert_eq!(r["address"], "kijitora@example.org");
    assert_eq!(r["action"], "failed");
    assert_eq!(r["status"], "5.1.1");
    // The failure came from the local delivery program (`Diagnostic-Code:
    // x-unix; procmail: ...`), not from a directory: Sisimai's table says
    // mailererror, which is not a hard bounce.
    assert_eq!(r["reason"], "mailererror");
    assert_eq!(r["hard"], false);
    assert_eq!(got[1]["kind"], "bounce");
    assert_eq!(got[2]["kind"], "complaint");
    assert_eq!(got[2]["feedback_type"], "abuse");
    for key in [
        "recipients",
        "original_message_id",
        "disposition",
        "feedback_type",
        "in_reply_to",
    ] {
        assert!(postfix.get(key).is_some(), "missing {key}: {postfix}");
    }
}

#[test]
fn directories_are_walked_in_order_and_unreadable_inputs_fail_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("b-sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        dir.path().join("a-hello.eml"),
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n\
         Subject: lunch?\r\nMessage-ID: <x1@example.org>\r\n\r\nAre you free at noon?\r\n",
    )
    .unwrap();
    std::fs::write(
        sub.join("reply.eml"),
        "From: Carol <carol@example.net>\r\nTo: alice@example.org\r\n\
         Subject: Re: lunch?\r\nIn-Reply-To: <x1@example.org>\r\n\r\nYes.\r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("c-empty.eml"), "").unwrap();
    let missing = dir.path().join("does-not-exist.eml");

    let out = bin()
        .arg("classify")
        .arg("--json")
        .arg(dir.path())
        .arg(&missing)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an unreadable input must make the command fail"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let got = lines(&out.stdout);
    let names: Vec<&str> = got.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            dir.path().join("a-hello.eml"),
            sub.join("reply.eml"),
            dir.path().join("c-empty.eml"),
            missing.clone(),
        ]
        .iter()
        .map(|p| p.to_str().unwrap())
        .collect::<Vec<_>>()
    );
    assert_eq!(got[0]["kind"], "other", "a person's message is no bounce");
    assert_eq!(got[0]["recipients"], Value::Array(vec![]));
    assert_eq!(got[1]["kind"], "reply");
    assert_eq!(got[1]["in_reply_to"][0], "x1@example.org");
    assert_eq!(got[2]["kind"], "other");
    assert!(got[3]["error"].is_string(), "{}", got[3]);
    assert!(got[3].get("kind").is_none());
}

/// A link back up the tree is not walked (else every file would come out
/// once per level until the kernel refused the path), a link to a file is
/// read like the file, and a tree of many small directories comes out in
/// the same depth-first order as one walked directory at a time.
#[cfg(unix)]
#[test]
fn links_to_directories_are_not_walked_and_links_to_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    std::fs::write(
        a.join("m.eml"),
        "From: Alice <alice@example.org>\r\nSubject: hi\r\n\r\nHello.\r\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..", a.join("up")).unwrap();
    std::os::unix::fs::symlink("a/m.eml", dir.path().join("link.eml")).unwrap();
    let mut expected = vec![a.join("m.eml"), dir.path().join("link.eml")];
    for i in 0..40 {
        let d = dir.path().join(format!("z{i:02}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("n.eml"), "Subject: note\r\n\r\nText.\r\n").unwrap();
        expected.push(d.join("n.eml"));
    }

    let out = bin()
        .arg("classify")
        .arg("--json")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got = lines(&out.stdout);
    let names: Vec<&str> = got.iter().map(|l| l["file"].as_str().unwrap()).collect();
    let expected: Vec<&str> = expected.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(names, expected);
    assert!(got.iter().all(|l| l["kind"] == "other"), "{got:?}");
}

/// `-` reads the message from standard input (a mail filter piping one
/// message in), in its place among the other inputs.
#[test]
fn a_dash_reads_standard_input() {
    use std::io::Write;
    use std::process::Stdio;

    let bsd = corpora().join("bounces/sisimai/bsd");
    let postfix = std::fs::read(bsd.join("lhost-postfix-01.eml")).unwrap();
    let qmail = bsd.join("lhost-qmail-01.eml");
    let mut child = bin()
        .args(["classify", "--json", "-"])
        .arg(&qmail)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&postfix).unwrap();
    let out = child.wait_with_output().unwrap();
    let got = succeeded(&out);
    assert_eq!(got.len(), 2, "one line per input");
    assert_eq!(got[0]["file"], "-");
    assert_eq!(got[0]["kind"], "bounce");
    assert_eq!(got[0]["recipients"][0]["address"], "kijitora@example.org");
    assert_eq!(got[0]["recipients"][0]["reason"], "mailererror");
    assert_eq!(got[1]["file"], qmail.to_string_lossy().as_ref());
    assert_eq!(got[1]["kind"], "bounce");
}

/// An endless input (`/dev/zero`, a device or a FIFO given by mistake) is
/// read only as far as the classifier looks: the command ends, with one
/// line. Before, it read until memory ran out.
#[cfg(unix)]
#[test]
fn an_endless_input_is_read_only_as_far_as_the_classifier_looks() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    // Under a 1 GiB address-space limit, so that a regression fails here
    // (an allocation fails, the process aborts) instead of taking the
    // machine's memory.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" classify --json /dev/zero")
        .arg(env!("CARGO_BIN_EXE_mailtrail"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("classify /dev/zero still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let got = succeeded(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["file"], "/dev/zero");
    assert_eq!(got[0]["kind"], "other");
}
