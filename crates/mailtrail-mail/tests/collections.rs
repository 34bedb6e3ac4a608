//! Accuracy of the inbound classifier on the other public bounce
//! collections kept in the repository (`tests/collections/NAME/`, each with
//! a `SOURCE.md` naming its origin, licence and commit, and an
//! `expected.tsv` giving each file's expected reason with its evidence).
//! They are scored apart from the Sisimai and flufl corpora
//! (`tests/corpus.rs`): each collection's figure measures how the rules
//! generalise to mail server families they were not written from, and
//! each has its own floor. `MAILTRAIL_CORPUS_VERBOSE=1` lists every miss.
//!
//! A file that is only the text of a notice (no header section, as some
//! projects keep their fixtures) is read as the body of a plain-text
//! message from `MAILER-DAEMON`, which is how such notices arrive.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailtrail_mail::inbound::{Kind, classify};

/// Floors per collection (reason accuracy), a little below today's figure.
const FLOORS: &[(&str, f64)] = &[("baunsu", 0.92), ("crisp", 0.85)];

fn collections() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/collections")
}

struct Row {
    file: String,
    /// The failed recipient, or `-` for a message that is not a bounce.
    address: String,
    /// The expected reason, or `-` for a message that is not a bounce.
    reason: String,
}

fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("expected.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert!(
                c.len() >= 4,
                "{}: a row needs 4 columns: {l}",
                dir.display()
            );
            Row {
                file: c[0].to_owned(),
                address: c[1].to_owned(),
                reason: c[2].to_owned(),
            }
        })
        .collect()
}

/// Whether the bytes start with a header field (`Name: value`, RFC 5322
/// section 2.2) rather than the text of a notice.
fn has_header(raw: &[u8]) -> bool {
    let first = raw
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(|b| b.is_ascii_whitespace()));
    first.is_some_and(|l| {
        let colon = l.iter().position(|&b| b == b':');
        colon.is_some_and(|i| i > 0 && l[..i].iter().all(|b| b.is_ascii_graphic()))
    })
}

fn message(raw: Vec<u8>) -> Vec<u8> {
    if has_header(&raw) {
        return raw;
    }
    let mut m = b"From: MAILER-DAEMON@collection.invalid (Mail Delivery System)\n\
Subject: Undelivered Mail Returned to Sender\n\
Content-Type: text/plain; charset=utf-8\n\n"
        .to_vec();
    m.extend_from_slice(&raw);
    m
}

fn hard(reason: &str) -> bool {
    matches!(
        reason,
        "userunknown" | "hostunknown" | "hasmoved" | "notaccept"
    )
}

/// (reason right, hard/soft right, rows) for one collection; prints the
/// figures by expected reason.
fn score(name: &str) -> (usize, usize, usize) {
    let dir = collections().join(name);
    assert!(dir.join("SOURCE.md").exists(), "{name}: SOURCE.md missing");
    let verbose = std::env::var_os("MAILTRAIL_CORPUS_VERBOSE").is_some();
    let rows = rows(&dir);
    let (mut right, mut hard_right) = (0, 0);
    let mut by_reason: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in &rows {
        let raw = std::fs::read(dir.join(&row.file))
            .unwrap_or_else(|e| panic!("{name}/{}: {e}", row.file));
        let c = classify(&message(raw));
        let failure = matches!(c.kind, Kind::Bounce | Kind::Delay);
        let (got, got_hard) = if row.reason == "-" {
            let got = if failure { "bounce" } else { "-" };
            (got.to_owned(), false)
        } else {
            let r = c.recipients.iter().find(|r| {
                r.address
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&row.address))
            });
            match r {
                Some(r) if failure => (r.reason.as_str().to_owned(), r.hard),
                Some(_) => (format!("{} (not a bounce)", c.kind.as_str()), false),
                None => (format!("{} (address not found)", c.kind.as_str()), false),
            }
        };
        let ok = got == row.reason;
        right += usize::from(ok);
        hard_right += usize::from(got_hard == hard(&row.reason) && got != "bounce");
        let e = by_reason.entry(row.reason.as_str()).or_default();
        e.0 += usize::from(ok);
        e.1 += 1;
        if !ok && verbose {
            eprintln!("{name}/{}: expected {}, got {got}", row.file, row.reason);
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "{name}: reason {right}/{} ({:.1}%), hard/soft {hard_right}/{} ({:.1}%)",
        rows.len(),
        pct(right, rows.len()),
        rows.len(),
        pct(hard_right, rows.len())
    );
    for (reason, (ok, n)) in by_reason {
        println!("  {reason}: {ok}/{n}");
    }
    (right, hard_right, rows.len())
}

#[test]
fn collections_stay_above_their_floors() {
    for &(name, floor) in FLOORS {
        let (right, _, n) = score(name);
        assert!(n > 0, "{name}: no rows");
        let got = right as f64 / n as f64;
        assert!(
            got >= floor,
            "{name}: reason accuracy {got:.3} below the floor {floor}"
        );
    }
}

#[test]
fn every_collection_has_a_floor() {
    let mut names: Vec<String> = std::fs::read_dir(collections())
        .expect("tests/collections")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in &names {
        assert!(
            FLOORS.iter().any(|(f, _)| f == n),
            "collection {n} has no floor"
        );
    }
}
