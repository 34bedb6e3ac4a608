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

use std::io::{Read, Write};
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // No path is looked at before the workers start: a directory shows
    // itself when reading it fails, and is then expanded in place.
    let inputs: Vec<Input> = paths.iter().cloned().map(Input::Path).collect();
    let failures = emit(&inputs, threads, format, &mut out)?;
    out.flush()?;
    Ok(failures)
}

/// One input: a path to read (a file, or a directory to expand), or a
/// directory entry that could not be listed.
enum Input {
    Path(PathBuf),
    Unreadable(PathBuf, String),
}

/// What became of one input.
enum Done {
    Line(Line),
    /// A directory: its entries come in its place.
    Dir(PathBuf),
}

struct Line {
    text: Vec<u8>,
    contains_error: bool,
}

/// Classifies `inputs` a batch at a time and writes their lines in order,
/// a directory's entries (sorted, recursively) in the directory's place.
fn emit(
    inputs: &[Input],
    threads: usize,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut failures = 0;
    for batch in inputs.chunks(BATCH) {
        for done in classify_batch(batch, threads, format) {
            match done {
                Done::Line(line) => {
                    if line.contains_error {
                        failures += 1;
                    }
                    out.write_all(&line.text)?;
                }
                Done::Dir(p) => failures += emit(&list_dir(&p), threads, format, out)?,
            }
        }
    }
    Ok(failures)
}

/// A directory's entries in sorted order; a directory that cannot be
/// listed, and entries that cannot be read, give error lines.
fn list_dir(p: &Path) -> Vec<Input> {
    let mut out = Vec::new();
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
            out.extend(entries.into_iter().map(Input::Path));
        }
        Err(e) => out.push(Input::Unreadable(p.to_owned(), e.to_string())),
    }
    out
}

/// Classifies a batch on `threads` workers (the calling thread is one)
/// taking the next file from a shared counter (files differ a lot in
/// size), results kept in input order.
fn classify_batch(batch: &[Input], threads: usize, format: Format) -> Vec<Done> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut mine = Vec::new();
        let mut buf = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = batch.get(i) else { break };
            mine.push((i, one(input, format, &mut buf)));
        }
        mine
    };
    let mut results: Vec<(usize, Done)> = std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads.min(batch.len()))
            .map(|_| s.spawn(work))
            .collect();
        let mut all = work();
        for w in workers {
            all.extend(w.join().unwrap_or_default());
        }
        all
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, d)| d).collect()
}

/// Reads the whole file at `path` into `buf` (kept between files, so no
/// allocation per file): open, read until the end, close.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut f = std::fs::File::open(path)?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize((buf.len() * 2).max(64 * 1024), 0);
        }
        match f.read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn one(input: &Input, format: Format, buf: &mut Vec<u8>) -> Done {
    let (path, e) = match input {
        Input::Path(path) => match read_into(path, buf) {
            Ok(n) => {
                let bytes = &buf[..n];
                // The classifier is built not to panic; should a dependency
                // still do so on some input, that file gets an error line
                // and the others are still classified.
                let Ok(c) = std::panic::catch_unwind(|| classify(bytes)) else {
                    let e = "the classifier failed on this input";
                    return Done::Line(match format {
                        Format::Json => error_line(path, e),
                        Format::Text => Line {
                            text: format!("{}\terror\t{e}\n", path.display()).into_bytes(),
                            contains_error: true,
                        },
                    });
                };
                let text = match format {
                    Format::Json => json_line(path, &c),
                    Format::Text => text_line(path, &c).into_bytes(),
                };
                return Done::Line(Line {
                    text,
                    contains_error: false,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
                return Done::Dir(path.clone());
            }
            Err(e) => (path, e.to_string()),
        },
        Input::Unreadable(path, e) => (path, e.clone()),
    };
    Done::Line(match format {
        Format::Json => error_line(path, &e),
        Format::Text => Line {
            text: format!("{}\terror\t{e}\n", path.display()).into_bytes(),
            contains_error: true,
        },
    })
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
/// always a JSON object with `kind` first, so its opening brace is dropped
/// and its fields follow the file's.
fn json_line(path: &Path, c: &Classification) -> Vec<u8> {
    let mut v = Vec::with_capacity(512);
    v.extend_from_slice(b"{\"file\":");
    file_json(&mut v, path);
    v.push(b',');
    let at = v.len();
    if serde_json::to_writer(&mut v, c).is_ok() && v.get(at) == Some(&b'{') && v.len() > at + 2 {
        v.remove(at);
        v.push(b'\n');
    } else {
        v.truncate(at);
        v.extend_from_slice(b"\"error\":\"cannot serialise\"}\n");
    }
    v
}

fn error_line(path: &Path, e: &str) -> Line {
    let mut v = Vec::with_capacity(128);
    v.extend_from_slice(b"{\"file\":");
    file_json(&mut v, path);
    v.extend_from_slice(b",\"error\":");
    // A string always serialises.
    let _ = serde_json::to_writer(&mut v, e);
    v.extend_from_slice(b"}\n");
    Line {
        text: v,
        contains_error: true,
    }
}

/// The path as a JSON string (lossily, when it is not UTF-8).
fn file_json(v: &mut Vec<u8>, path: &Path) {
    // A string always serialises.
    let _ = serde_json::to_writer(v, &path.to_string_lossy());
}
