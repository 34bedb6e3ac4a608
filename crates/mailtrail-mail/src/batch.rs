//! The batch classifier behind `mailtrail classify [--json] PATH...`, whose
//! JSON lines are the contract other tools rely on.
//! A `PATH` of `-` is standard input, as for most Unix tools: one message
//! piped in (from a mail filter, say).
//!
//! Every file (directories are walked recursively, entries sorted so the
//! output order is deterministic; a directory reached through a symbolic
//! link is not walked) gives exactly one JSON line: the
//! [`Classification`] of its bytes with `"file"` first. The files are read and
//! classified on every core, a batch at a time, so memory stays bounded on
//! directories of any size; lines are printed in input order as soon as
//! their turn comes. Each input is read up to what the classifier looks at
//! (`MAX_INPUT`), so an endless one (`/dev/zero`) ends too. A file that
//! cannot be read gives a line with `"error"` and makes the command fail at
//! the end, after every other file was still classified.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::inbound::{Action, Classification, MAX_INPUT, classify};

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

impl Format {
    /// JSON lines when `json` (the `--json` flag), else text.
    pub fn from_flag(json: bool) -> Self {
        if json { Format::Json } else { Format::Text }
    }
}

/// Runs the command; `Ok(n)` is the number of inputs that failed.
pub fn run(paths: &[PathBuf], format: Format, out: &mut dyn Write) -> std::io::Result<usize> {
    // Standard output is line-buffered: written 64 KiB at a time instead.
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
/// a directory's files (sorted, recursively) in the directory's place.
fn emit(
    inputs: &[Input],
    threads: usize,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut failures = 0;
    for batch in inputs.chunks(BATCH) {
        failures += write_batch(batch, threads, format, out)?;
    }
    Ok(failures)
}

/// Classifies one batch and writes its lines in input order, a directory
/// in it walked in its place.
///
/// The batch is classified on `threads` workers (the calling thread is
/// one), each taking the next input from a shared counter (files differ a
/// lot in size). Each result goes to its input's slot. Between its own
/// inputs, the calling thread writes the lines whose turn has come, so
/// writing overlaps classifying instead of following it (written after
/// the batch, the corpus's 270 kB of lines were 2-3% of the run), and a
/// reader of the output gets its first lines at once. Whatever could not
/// be written then (a directory, whose tree spawns workers of its own;
/// lines after it; those finished last) is written once the workers are
/// done.
fn write_batch(
    batch: &[Input],
    threads: usize,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let slots: Vec<OnceLock<Done>> = batch.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    // Classifies the next input not yet taken; false when none is left.
    let take_next = |buf: &mut Vec<u8>| {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(input) = batch.get(i) else {
            return false;
        };
        // Only this thread took `i`: the slot is empty.
        let _ = slots[i].set(one(input, format, buf));
        true
    };
    let mut writer = InOrder {
        out,
        written: 0,
        failures: 0,
    };
    let placement = Placement::here();
    let mut written_so_far = Ok(());
    std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads.min(batch.len()))
            .map(|k| {
                let (placement, take_next) = (&placement, &take_next);
                s.spawn(move || {
                    placement.move_worker(k);
                    let mut buf = read_buffer();
                    while take_next(&mut buf) {}
                })
            })
            .collect();
        if !workers.is_empty() {
            // A worker queued on this CPU runs its `move_worker` now.
            std::thread::yield_now();
            // The phrase tables, built while the workers read their first
            // files, not by whichever thread reaches each first while the
            // others sleep on it.
            crate::inbound::build_tables();
        }
        let mut buf = read_buffer();
        while take_next(&mut buf) {
            if written_so_far.is_ok() {
                written_so_far = writer.ready(&slots);
                if written_so_far.is_err() {
                    // Nothing more can be written (a closed pipe): no
                    // input is taken any more, by any thread.
                    next.store(batch.len(), Ordering::Relaxed);
                }
            }
        }
        // Each classification is already behind `catch_unwind`; a worker
        // that still died leaves its inputs' slots empty (see below).
        // Joined here, its panic is not raised again by the scope.
        for w in workers {
            let _ = w.join();
        }
    });
    written_so_far?;
    writer.rest(batch, slots, threads, format)?;
    Ok(writer.failures)
}

/// Writes a batch's lines in input order as their slots fill.
struct InOrder<'o> {
    out: &'o mut dyn Write,
    /// The inputs before this one are written.
    written: usize,
    /// Lines written that say an input failed.
    failures: usize,
}

impl InOrder<'_> {
    fn line(&mut self, line: &Line) -> std::io::Result<()> {
        if line.contains_error {
            self.failures += 1;
        }
        self.out.write_all(&line.text)
    }

    /// Writes the lines from the first unwritten one up to the first slot
    /// that is still empty or holds a directory.
    fn ready(&mut self, slots: &[OnceLock<Done>]) -> std::io::Result<()> {
        while let Some(Done::Line(line)) = slots.get(self.written).and_then(OnceLock::get) {
            self.line(line)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Writes everything after the lines already written, once no worker
    /// runs: lines, directories walked in their place, and an error line
    /// for each input that has no result, whose worker died (its inputs
    /// must not vanish from the output).
    fn rest(
        &mut self,
        batch: &[Input],
        slots: Vec<OnceLock<Done>>,
        threads: usize,
        format: Format,
    ) -> std::io::Result<()> {
        let start = self.written;
        for (input, slot) in batch.iter().zip(slots).skip(start) {
            match slot.into_inner() {
                Some(Done::Line(line)) => self.line(&line)?,
                Some(Done::Dir(p)) => self.failures += emit_tree(&p, threads, format, self.out)?,
                None => {
                    let (Input::Path(path) | Input::Unreadable(path, _)) = input;
                    let e = "a worker failed before writing this input's line";
                    self.line(&error(format, path, e))?;
                }
            }
            self.written += 1;
        }
        Ok(())
    }
}

/// A worker's read buffer: room for most files from the start (reserved,
/// not touched: the pages are faulted in only as far as the largest file
/// reaches); from an empty buffer the first reads would be 32, 64, 128...
/// bytes.
fn read_buffer() -> Vec<u8> {
    Vec::with_capacity(64 * 1024)
}

/// Classifies the files of the tree at `root` in walk order ([`Walk`]),
/// [`BATCH`] at a time: the batches span directories, so a tree of small
/// directories is classified on every core (walked a directory at a time,
/// it ran on one: the bounce corpus as 616 directories of one file took
/// 45-50 ms, against 19-24 ms in one directory; walked this way, 29 ms).
fn emit_tree(
    root: &Path,
    threads: usize,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut walk = Walk::new(root);
    let mut failures = 0;
    loop {
        let batch: Vec<Input> = walk.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(failures);
        }
        failures += write_batch(&batch, threads, format, out)?;
    }
}

/// A depth-first walk of a directory tree: each directory's entries in
/// sorted order, a subdirectory's files in its place. Only the entries
/// still to come of the directories on the current path are held, so
/// memory stays bounded by the tree's depth and widest directories, not
/// its size. A directory that cannot be listed, and entries that cannot
/// be read, give error lines.
///
/// Directories reached through a symbolic link are not walked (a link to
/// a parent would walk the tree again and again, as `find` without `-L`
/// and `grep -r` also avoid); a link to a file is read like the file.
struct Walk {
    stack: Vec<std::vec::IntoIter<Entry>>,
}

/// One entry of a listed directory.
enum Entry {
    Dir(PathBuf),
    Input(Input),
}

impl Walk {
    fn new(root: &Path) -> Self {
        Walk {
            stack: vec![list(root).into_iter()],
        }
    }
}

impl Iterator for Walk {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            match self.stack.last_mut()?.next() {
                None => {
                    self.stack.pop();
                }
                Some(Entry::Dir(p)) => self.stack.push(list(&p).into_iter()),
                Some(Entry::Input(i)) => return Some(i),
            }
        }
    }
}

/// The entries of directory `p`, sorted; errors first.
fn list(p: &Path) -> Vec<Entry> {
    let rd = match std::fs::read_dir(p) {
        Ok(rd) => rd,
        Err(e) => return vec![Entry::Input(Input::Unreadable(p.to_owned(), e.to_string()))],
    };
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for e in rd {
        match e {
            // The type comes with the entry on most file systems (no extra
            // system call), else from `lstat`.
            Ok(e) => entries.push((e.path(), e.file_type().ok())),
            Err(e) => out.push(Entry::Input(Input::Unreadable(p.to_owned(), e.to_string()))),
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        match kind {
            Some(k) if k.is_dir() => out.push(Entry::Dir(path)),
            Some(k) if k.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) => {}
            _ => out.push(Entry::Input(Input::Path(path))),
        }
    }
    out
}

/// Where the workers start: each on a CPU of its own.
///
/// Linux may queue a new thread on its parent's CPU, and leaves it there
/// until the next load balancing when the scheduler packs work onto few
/// CPUs (some VMs do: `sched_vcpu_pack`). Measured on such a 2-vCPU VM
/// over the bounce corpus, one of the two threads then started 2.5 ms
/// late on average (up to 4.7 ms) in a run of 10-15 ms; moved as below,
/// 0.3 ms. A worker therefore first moves itself to a CPU other than the
/// main thread's (the k-th of the others it may run on) and then allows
/// every CPU again, so the scheduler may still move it later.
struct Placement {
    #[cfg(target_os = "linux")]
    main_cpu: usize,
    #[cfg(target_os = "linux")]
    allowed: Option<rustix::thread::CpuSet>,
}

impl Placement {
    /// The calling thread's CPU and the CPUs the process may run on.
    fn here() -> Self {
        #[cfg(target_os = "linux")]
        {
            Placement {
                main_cpu: rustix::thread::sched_getcpu(),
                allowed: rustix::thread::sched_getaffinity(None).ok(),
            }
        }
        #[cfg(not(target_os = "linux"))]
        Placement {}
    }

    /// Moves the calling worker (number `k`, from 1) off the main thread's
    /// CPU. Best effort: a failure leaves the placement to the scheduler.
    fn move_worker(&self, k: usize) {
        #[cfg(target_os = "linux")]
        {
            use rustix::thread::{CpuSet, sched_setaffinity};
            let Some(allowed) = &self.allowed else { return };
            let others: Vec<usize> = (0..CpuSet::MAX_CPU)
                .filter(|&c| allowed.is_set(c) && c != self.main_cpu)
                .collect();
            let Some(&cpu) = others.get((k - 1) % others.len().max(1)) else {
                return;
            };
            let mut one = CpuSet::new();
            one.set(cpu);
            if sched_setaffinity(None, &one).is_ok() {
                let _ = sched_setaffinity(None, allowed);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = k;
    }
}

/// Reads the input at `path` into `buf` (kept between files, so no
/// allocation per file): the file (open, read until the end, close), or
/// standard input when `path` is `-` (a file named `-` is `./-`).
///
/// At most [`MAX_INPUT`] bytes are read, all that the classifier looks at:
/// a huge file in a directory of bounces costs neither memory nor reading
/// beyond that. The bytes are read into the buffer's spare capacity, not
/// zeroed first: a worker then touches only as many pages as its largest
/// file needs (a page fault costs microseconds on some VMs). Through
/// `Take`, because `File`'s own `read_to_end` first asks for the file's
/// size and position (two more system calls a file).
fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    let limit = MAX_INPUT as u64;
    if path.as_os_str() == "-" {
        return std::io::stdin().lock().take(limit).read_to_end(buf);
    }
    std::fs::File::open(path)?.take(limit).read_to_end(buf)
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
                    return Done::Line(error(format, path, e));
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
    Done::Line(error(format, path, &e))
}

/// The line of an input that gave no classification: `{"file": ...,
/// "error": ...}`, or `file<TAB>error<TAB>...` as text.
fn error(format: Format, path: &Path, e: &str) -> Line {
    let text = match format {
        Format::Json => {
            let mut v = Vec::with_capacity(128);
            v.extend_from_slice(b"{\"file\":");
            file_json(&mut v, path);
            v.extend_from_slice(b",\"error\":");
            json_str(&mut v, e);
            v.extend_from_slice(b"}\n");
            v
        }
        Format::Text => format!("{}\terror\t{e}\n", path.display()).into_bytes(),
    };
    Line {
        text,
        contains_error: true,
    }
}

fn text_line(path: &Path, c: &Classification) -> String {
    let kind = c.kind.as_str();
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

/// `{"file": ..., <the classification's fields>}`, written directly: the
/// same bytes as the serde form of [`Classification`] after the file (a
/// test compares the two on every kind of value), without serde's
/// per-field calls, which were a twentieth of the command's work.
fn json_line(path: &Path, c: &Classification) -> Vec<u8> {
    let mut v = Vec::with_capacity(256 + 256 * c.recipients.len());
    v.extend_from_slice(b"{\"file\":");
    file_json(&mut v, path);
    v.extend_from_slice(b",\"kind\":\"");
    v.extend_from_slice(c.kind.as_str().as_bytes());
    v.extend_from_slice(b"\",\"recipients\":[");
    for (i, r) in c.recipients.iter().enumerate() {
        if i > 0 {
            v.push(b',');
        }
        v.extend_from_slice(b"{\"address\":");
        json_opt(&mut v, r.address.as_deref());
        v.extend_from_slice(b",\"action\":");
        json_opt(&mut v, r.action.map(Action::as_str));
        v.extend_from_slice(b",\"status\":");
        json_opt(&mut v, r.status.as_deref());
        v.extend_from_slice(b",\"reply_code\":");
        json_opt(&mut v, r.reply_code.as_deref());
        v.extend_from_slice(b",\"reason\":");
        json_str(&mut v, r.reason.as_str());
        v.extend_from_slice(if r.hard {
            b",\"hard\":true,\"diagnostic\":"
        } else {
            b",\"hard\":false,\"diagnostic\":"
        });
        json_opt(&mut v, r.diagnostic.as_deref());
        v.push(b'}');
    }
    v.extend_from_slice(b"],\"original_message_id\":");
    json_opt(&mut v, c.original_message_id.as_deref());
    v.extend_from_slice(b",\"disposition\":");
    json_opt(&mut v, c.disposition.as_deref());
    v.extend_from_slice(b",\"feedback_type\":");
    json_opt(&mut v, c.feedback_type.as_deref());
    v.extend_from_slice(b",\"in_reply_to\":[");
    for (i, id) in c.in_reply_to.iter().enumerate() {
        if i > 0 {
            v.push(b',');
        }
        json_str(&mut v, id);
    }
    v.extend_from_slice(b"]}\n");
    v
}

/// A JSON string or `null`.
fn json_opt(v: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(v, s),
        None => v.extend_from_slice(b"null"),
    }
}

/// `s` as a JSON string (RFC 8259 section 7), escaped as serde_json
/// escapes: `"` and `\\`, the control characters by their short escapes
/// or `\u00xx`, everything else (non-ASCII included) as it is.
fn json_str(v: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    v.reserve(b.len() + 2);
    v.push(b'"');
    // Most strings need no escape: one pass without an early exit (which
    // the compiler turns into wide compares) tells, and they are copied
    // whole.
    let plain = !b
        .iter()
        .fold(false, |e, &c| e | (c < 0x20) | (c == b'"') | (c == b'\\'));
    if plain {
        v.extend_from_slice(b);
        v.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ],
            _ => continue,
        };
        v.extend_from_slice(&b[start..i]);
        v.extend_from_slice(short);
        start = i + 1;
    }
    v.extend_from_slice(&b[start..]);
    v.push(b'"');
}

/// The path as a JSON string (lossily, when it is not UTF-8).
fn file_json(v: &mut Vec<u8>, path: &Path) {
    json_str(v, &path.to_string_lossy());
}

#[cfg(test)]
mod tests {
    use crate::inbound::{Action, Kind, RecipientReport};
    use mailtrail_domain::Reason;

    use super::*;

    /// serde's form of the line, which [`json_line`] writes by hand.
    fn by_serde(path: &Path, c: &Classification) -> Vec<u8> {
        let mut v = b"{\"file\":".to_vec();
        serde_json::to_writer(&mut v, &path.to_string_lossy()).expect("a string serialises");
        v.push(b',');
        let body = serde_json::to_vec(c).expect("a classification serialises");
        v.extend_from_slice(&body[1..]);
        v.push(b'\n');
        v
    }

    /// Every ASCII byte, escapes of every kind, and text beyond ASCII.
    fn nasty() -> String {
        let mut s: String = (0u8..128).map(char::from).collect();
        s.push_str("é 日本 \u{2028} \u{1F600} \\\" end");
        s
    }

    /// Lines are written in input order as their slots fill, up to the
    /// first empty one; the rest once the workers are done, where an
    /// input whose worker died (no result) gets an error line instead of
    /// vanishing from the output.
    #[test]
    fn lines_in_order_and_inputs_of_a_dead_worker_get_error_lines() {
        let batch: Vec<Input> = ["a", "b", "c"]
            .map(|p| Input::Path(PathBuf::from(p)))
            .into();
        let line = |t: &str| {
            Done::Line(Line {
                text: t.as_bytes().to_vec(),
                contains_error: false,
            })
        };
        let slots: Vec<OnceLock<Done>> = batch.iter().map(|_| OnceLock::new()).collect();
        let _ = slots[0].set(line("a\n"));
        let _ = slots[2].set(line("c\n"));
        let mut out = Vec::new();
        let mut w = InOrder {
            out: &mut out,
            written: 0,
            failures: 0,
        };
        w.ready(&slots).expect("writes to memory");
        assert_eq!(w.written, 1, "stops at the first empty slot");
        w.rest(&batch, slots, 1, Format::Json)
            .expect("writes to memory");
        assert_eq!((w.written, w.failures), (3, 1));
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "a\n{\"file\":\"b\",\"error\":\"a worker failed before writing this input's line\"}\nc\n"
        );
    }

    /// A write that fails (a closed pipe) ends the batch with its error,
    /// on one thread and on several.
    #[test]
    fn a_failed_write_is_the_batch_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let batch: Vec<Input> = (0..50)
            .map(|i| Input::Unreadable(PathBuf::from(format!("f{i}")), "gone".into()))
            .collect();
        for threads in [1, 2] {
            let e = write_batch(&batch, threads, Format::Json, &mut Closed)
                .expect_err("nothing can be written");
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        }
    }

    /// An input is read up to what the classifier looks at, however large.
    #[test]
    fn reading_stops_at_the_classifier_limit() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("huge.eml");
        let file = std::fs::File::create(&path).expect("created");
        file.set_len(MAX_INPUT as u64 + 4096).expect("sized");
        let mut buf = Vec::new();
        let n = read_into(&path, &mut buf).expect("read");
        assert_eq!((n, buf.len()), (MAX_INPUT, MAX_INPUT));
        std::fs::write(&path, b"Subject: small\n\nhi\n").expect("written");
        assert_eq!(read_into(&path, &mut buf).expect("read"), 19);
        assert_eq!(buf, b"Subject: small\n\nhi\n");
    }

    /// A worker's move is only a start: afterwards it may run on every CPU
    /// the process may, as before.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_moved_worker_may_run_anywhere_again() {
        let placement = Placement::here();
        let before = rustix::thread::sched_getaffinity(None).unwrap();
        for k in 1..=3 {
            let after = std::thread::scope(|s| {
                s.spawn(|| {
                    placement.move_worker(k);
                    rustix::thread::sched_getaffinity(None).unwrap()
                })
                .join()
                .unwrap()
            });
            assert_eq!(after, before, "worker {k}");
        }
    }

    /// The hand-written line is byte for byte serde's, for every kind,
    /// action and reason, every field absent and present, and strings
    /// holding every character JSON escapes.
    #[test]
    fn json_line_is_serdes_line() {
        let kinds = [
            Kind::Bounce,
            Kind::Delay,
            Kind::DeliveryReport,
            Kind::ReadReceipt,
            Kind::Complaint,
            Kind::Reply,
            Kind::AutoReply,
            Kind::Other,
        ];
        let actions = [
            None,
            Some(Action::Failed),
            Some(Action::Delayed),
            Some(Action::Delivered),
            Some(Action::Relayed),
            Some(Action::Expanded),
        ];
        let text = |i: usize| match i % 3 {
            0 => None,
            1 => Some(nasty()),
            _ => Some(format!("plain {i}")),
        };
        let mut checked = 0;
        for (k, kind) in kinds.into_iter().enumerate() {
            for n in 0..3 {
                let recipients = (0..n)
                    .map(|i| RecipientReport {
                        address: text(i + k),
                        action: actions[(i + k) % actions.len()],
                        status: text(i + k + 1),
                        reply_code: text(i + k + 2),
                        reason: Reason::ALL[(i * 7 + k) % Reason::ALL.len()],
                        hard: (i + k) % 2 == 0,
                        diagnostic: text(i + 1),
                        remote_mta: text(i),
                    })
                    .collect();
                let c = Classification {
                    kind,
                    recipients,
                    original_message_id: text(k),
                    disposition: text(k + 1),
                    feedback_type: text(k + 2),
                    in_reply_to: (0..n).map(|i| text(i + 1).unwrap_or_default()).collect(),
                    from: text(k),
                    verp_token: text(k + 1),
                };
                let path = Path::new(if n == 1 {
                    "dir/\"odd\"\tname.eml"
                } else {
                    "a.eml"
                });
                assert_eq!(
                    String::from_utf8_lossy(&json_line(path, &c)),
                    String::from_utf8_lossy(&by_serde(path, &c)),
                    "{kind:?} with {n} recipients"
                );
                checked += 1;
            }
        }
        for reason in Reason::ALL {
            let c = Classification {
                recipients: vec![RecipientReport {
                    address: None,
                    action: None,
                    status: None,
                    reply_code: None,
                    reason: *reason,
                    hard: false,
                    diagnostic: None,
                    remote_mta: None,
                }],
                ..Default::default()
            };
            assert_eq!(json_line(Path::new("r"), &c), by_serde(Path::new("r"), &c));
            checked += 1;
        }
        assert!(checked > 30);
    }
}
