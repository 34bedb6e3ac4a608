//! Accuracy of the inbound classifier on the public bounce corpora
//! (`shared/corpora/README.md`): Sisimai's set-of-emails with the expected
//! reason, status and hard/soft per recipient, flufl.bounce's messages with
//! the expected failed addresses, and Sisimai's messages that are not
//! bounces. The figures are printed; the floors below stop accuracy from
//! dropping silently. Set `MAILTRAIL_CORPUS_VERBOSE=1` to list every miss.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mailtrail_mail::inbound::{Classification, Kind, classify};

/// Floors, a little below what the classifier achieves today.
const FLOOR_REASON: f64 = 0.925;
const FLOOR_HARD: f64 = 0.98;
const FLOOR_STATUS: f64 = 0.99;
const FLOOR_FLUFL: f64 = 0.96;

fn corpora() -> PathBuf {
    let dir = std::env::var_os("MAILTRAIL_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let need = [
        "bounces/sisimai/expected.tsv",
        "bounces/sisimai/bsd",
        "bounces/sisimai/not",
        "bounces/flufl/expected.tsv",
    ];
    for n in need {
        assert!(
            dir.join(n).exists(),
            "corpus missing: {} (set MAILTRAIL_CORPORA to the shared/corpora folder)",
            dir.join(n).display()
        );
    }
    dir
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn verbose() -> bool {
    std::env::var_os("MAILTRAIL_CORPUS_VERBOSE").is_some()
}

/// Sisimai's invented codes (x.0.9nn, 5.9.2nn) mean "no status given".
fn invented(s: &str) -> bool {
    let p: Vec<&str> = s.split('.').collect();
    p.len() == 3 && ((p[1] == "0" && p[2].len() == 3 && p[2].starts_with('9')) || p[1] == "9")
}

struct Row {
    file: String,
    index: usize,
    status: String,
    reason: String,
    hard: bool,
}

fn sisimai_rows(dir: &Path) -> Vec<Row> {
    let text =
        String::from_utf8(read(&dir.join("bounces/sisimai/expected.tsv"))).expect("utf-8 table");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                file: c[0].to_owned(),
                index: c[1].parse().expect("index"),
                status: c[2].to_owned(),
                reason: c[4].to_owned(),
                hard: c[5] == "true",
            }
        })
        .collect()
}

struct Score {
    rows: usize,
    reason: usize,
    hard: usize,
    status: usize,
}

fn score_sisimai(dir: &Path, sub: &str, rows: &[Row], show: bool) -> Score {
    let mut cache: BTreeMap<String, Option<Classification>> = BTreeMap::new();
    let mut s = Score {
        rows: 0,
        reason: 0,
        hard: 0,
        status: 0,
    };
    // Reason accuracy per server family (the file name without its
    // number: `lhost-postfix`, `rhost-google`, `rfc3464`).
    let mut families: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in rows {
        let path = dir.join("bounces/sisimai").join(sub).join(&row.file);
        let c = cache
            .entry(row.file.clone())
            .or_insert_with(|| path.exists().then(|| classify(&read(&path))));
        let Some(c) = c else { continue };
        s.rows += 1;
        let got = c.recipients.get(row.index - 1);
        let reason = got.map(|r| r.reason.as_str()).unwrap_or("-");
        let hard = got.is_some_and(|r| r.hard);
        let status = got.and_then(|r| r.status.clone()).unwrap_or_default();
        let want_status = if invented(&row.status) {
            ""
        } else {
            row.status.as_str()
        };
        let ok_reason = reason == row.reason;
        s.reason += usize::from(ok_reason);
        let family = row
            .file
            .trim_end_matches(".eml")
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches('-');
        let f = families.entry(family.to_owned()).or_default();
        f.0 += usize::from(ok_reason);
        f.1 += 1;
        s.status += usize::from(got.is_some() && status == want_status);
        let ok_hard = got.is_some() && hard == row.hard;
        s.hard += usize::from(ok_hard);
        if show && (!ok_reason || !ok_hard || status != want_status) {
            println!(
                "MISS {} #{}: reason {} (want {}) hard {}{} status {:?} (want {:?}) kind {:?} diag {:?}",
                row.file,
                row.index,
                reason,
                row.reason,
                hard,
                if ok_hard { "" } else { " (HARD MISS)" },
                status,
                want_status,
                c.kind,
                got.and_then(|r| r.diagnostic.as_deref())
                    .map(|d| d.chars().take(160).collect::<String>())
            );
        }
    }
    if show && sub == "bsd" {
        let below: Vec<String> = families
            .iter()
            .filter(|(_, (ok, n))| ok < n)
            .map(|(f, (ok, n))| format!("{f} {ok}/{n}"))
            .collect();
        println!(
            "families: {} of {} read without a reason miss; below: {}",
            families.len() - below.len(),
            families.len(),
            below.join(", ")
        );
    }
    s
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[test]
fn sisimai_and_flufl_accuracy() {
    let dir = corpora();
    let rows = sisimai_rows(&dir);
    let start = std::time::Instant::now();
    let bsd = score_sisimai(&dir, "bsd", &rows, verbose());
    let elapsed = start.elapsed();
    println!(
        "sisimai bsd: {} rows; reason {:.1}%, hard/soft {:.1}%, status {:.1}% ({:?})",
        bsd.rows,
        100.0 * pct(bsd.reason, bsd.rows),
        100.0 * pct(bsd.hard, bsd.rows),
        100.0 * pct(bsd.status, bsd.rows),
        elapsed
    );
    assert!(
        bsd.rows >= 400,
        "expected.tsv should have 403 rows, read {}",
        bsd.rows
    );
    for sub in ["dos", "mac"] {
        let s = score_sisimai(&dir, sub, &rows, false);
        // The copies with other line ends must read exactly like the originals.
        let same = score_sisimai_subset(&dir, sub, &rows);
        println!(
            "sisimai {sub}: {} rows; reason {:.1}%, hard/soft {:.1}%, status {:.1}%",
            s.rows,
            100.0 * pct(s.reason, s.rows),
            100.0 * pct(s.hard, s.rows),
            100.0 * pct(s.status, s.rows)
        );
        assert_eq!(
            s.reason, same.reason,
            "{sub}/ copies read differently from bsd/"
        );
        assert_eq!(
            s.status, same.status,
            "{sub}/ copies read differently from bsd/"
        );
    }

    let (files, exact) = score_flufl(&dir, verbose());
    println!(
        "flufl: {files} files; exact failed-address sets {:.1}%",
        100.0 * pct(exact, files)
    );

    assert!(
        pct(bsd.reason, bsd.rows) >= FLOOR_REASON,
        "reason accuracy fell below the floor"
    );
    assert!(
        pct(bsd.hard, bsd.rows) >= FLOOR_HARD,
        "hard/soft accuracy fell below the floor"
    );
    assert!(
        pct(bsd.status, bsd.rows) >= FLOOR_STATUS,
        "status accuracy fell below the floor"
    );
    assert!(
        pct(exact, files) >= FLOOR_FLUFL,
        "flufl address accuracy fell below the floor"
    );
}

/// The bsd/ score restricted to the files that also exist in `sub`.
fn score_sisimai_subset(dir: &Path, sub: &str, rows: &[Row]) -> Score {
    let present: Vec<Row> = rows
        .iter()
        .filter(|r| dir.join("bounces/sisimai").join(sub).join(&r.file).exists())
        .map(|r| Row {
            file: r.file.clone(),
            index: r.index,
            status: r.status.clone(),
            reason: r.reason.clone(),
            hard: r.hard,
        })
        .collect();
    score_sisimai(dir, "bsd", &present, false)
}

fn score_flufl(dir: &Path, show: bool) -> (usize, usize) {
    let text =
        String::from_utf8(read(&dir.join("bounces/flufl/expected.tsv"))).expect("utf-8 table");
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let c: Vec<&str> = l.split('\t').collect();
        let set = want.entry(c[0].to_owned()).or_default();
        set.extend(
            c[2].split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_lowercase),
        );
    }
    let mut exact = 0;
    for (file, set) in &want {
        let c = classify(&read(&dir.join("bounces/flufl").join(file)));
        let got: BTreeSet<String> = c
            .recipients
            .iter()
            .filter_map(|r| r.address.as_deref())
            .map(str::to_lowercase)
            .collect();
        if &got == set {
            exact += 1;
        } else if show {
            println!("FLUFL {file}: got {got:?} want {set:?} kind {:?}", c.kind);
        }
    }
    (want.len(), exact)
}

#[test]
fn non_bounces_are_never_bounces() {
    let dir = corpora().join("bounces/sisimai/not");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("not/ folder") {
        let path = entry.expect("entry").path();
        let c = classify(&read(&path));
        n += 1;
        assert!(
            !matches!(c.kind, Kind::Bounce | Kind::Delay),
            "{} is not a bounce but was read as {:?}",
            path.display(),
            c.kind
        );
    }
    assert!(n >= 3, "expected the 3 files of not/, found {n}");
    println!("not/: {n} files, 0 called bounces");
}
