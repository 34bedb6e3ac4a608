//! `mailtrail classify [--json] PATH...`: the offline classifier, the
//! contract other tools rely on (issue "Reading what comes back").
//!
//! Every file (directories are walked recursively, entries sorted so the
//! output order is deterministic) gives exactly one JSON line: the
//! [`Classification`] of its bytes with `"file"` first. The files are read and
//! classified on every core; lines are printed in input order, a batch at a
//! time, so memory stays bounded on directories of any size. A file that
//! cannot be read gives a line with `"error"` and makes the command fail at
//! the end, after every other file was still classified.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mailtrail_mail::inbound::{Classification, classify};

/// Files classified before their lines are printed: large enough to keep
/// every core busy, small enough to bound memory.
const BATCH: usize = 4096;

/// How each file's line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (the contract).
    Json,
    /// `file<TAB>kind<TAB>address reason status, ...` for people reading a
    /// terminal.
    Text,
}

/// Runs the command; `Ok(n)` is the number of inputs that failed.
pub fn run(paths: &[PathBuf], format: Format, out: &mut dyn Write) -> std::io::Result<usize> {
    // Standard output is line-buffered: one write per batch, not per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut files = Vec::new();
    let mut failures = 0;
    for p in paths {
        collect(p, &mut files);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for batch in files.chunks(BATCH) {
        for line in classify_batch(batch, threads, format) {
            if line.contains_error {
                failures += 1;
            }
            out.write_all(line.text.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(failures)
}

/// One input: a real file, or a path that could not be listed or read.
enum Input {
    File(PathBuf),
    Unreadable(PathBuf, String),
}

struct Line {
    text: String,
    contains_error: bool,
}

/// Expands directories recursively in sorted order; anything else is kept as
/// given so that reading it reports the error.
fn collect(p: &Path, out: &mut Vec<Input>) {
    if !p.is_dir() {
        out.push(Input::File(p.to_owned()));
        return;
    }
    match std::fs::read_dir(p) {
        Ok(rd) => {
            let mut entries = Vec::new();
            for e in rd {
                match e {
                    Ok(e) => entries.push(e.path()),
                    Err(e) => out.push(Input::Unreadable(p.to_owned(), e.to_string())),
                }
            }
            entries.sort();
            for e in entries {
                collect(&e, out);
            }
        }
        Err(e) => out.push(Input::Unreadable(p.to_owned(), e.to_string())),
    }
}

/// Classifies a batch on `threads` workers taking the next file from a
/// shared counter (files differ a lot in size), results kept in input order.
fn classify_batch(batch: &[Input], threads: usize, format: Format) -> Vec<Line> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Line)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(batch.len()).max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = batch.get(i) else { break };
                        mine.push((i, one(input, format)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, l)| l).collect()
}

fn one(input: &Input, format: Format) -> Line {
    let (path, e) = match input {
        Input::File(path) => match std::fs::read(path) {
            Ok(bytes) => {
                // The classifier is built not to panic; should a dependency
                // still do so on some input, that file gets an error line
                // and the others are still classified.
                let Ok(c) = std::panic::catch_unwind(|| classify(&bytes)) else {
                    let e = "the classifier failed on this input".to_owned();
                    return match format {
                        Format::Json => error_line(path, &e),
                        Format::Text => Line {
                            text: format!("{}\terror\t{e}\n", path.display()),
                            contains_error: true,
                        },
                    };
                };
                let text = match format {
                    Format::Json => json_line(path, &c),
                    Format::Text => text_line(path, &c),
                };
                return Line {
                    text,
                    contains_error: false,
                };
            }
            Err(e) => (path, e.to_string()),
        },
        Input::Unreadable(path, e) => (path, e.clone()),
    };
    match format {
        Format::Json => error_line(path, &e),
        Format::Text => Line {
            text: format!("{}\terror\t{e}\n", path.display()),
            contains_error: true,
        },
    }
}

fn text_line(path: &Path, c: &Classification) -> String {
    let kind = serde_json::to_value(c.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let recipients: Vec<String> = c
        .recipients
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.address.as_deref().unwrap_or("-"),
                r.reason.as_str(),
                r.status.as_deref().unwrap_or("-")
            )
        })
        .collect();
    format!("{}\t{kind}\t{}\n", path.display(), recipients.join(", "))
}

/// `{"file": ..., <the classification's fields>}`: the classification is
/// always a JSON object with `kind` first, so its opening brace is replaced.
fn json_line(path: &Path, c: &Classification) -> String {
    let file = file_json(path);
    match serde_json::to_string(c) {
        Ok(body) if body.starts_with('{') && body.len() > 2 => {
            format!("{{\"file\":{file},{}\n", &body[1..])
        }
        Ok(_) | Err(_) => format!("{{\"file\":{file},\"error\":\"cannot serialise\"}}\n"),
    }
}

fn error_line(path: &Path, e: &str) -> Line {
    let file = file_json(path);
    let e = serde_json::Value::String(e.to_owned());
    Line {
        text: format!("{{\"file\":{file},\"error\":{e}}}\n"),
        contains_error: true,
    }
}

fn file_json(path: &Path) -> serde_json::Value {
    serde_json::Value::String(path.to_string_lossy().into_owned())
}
