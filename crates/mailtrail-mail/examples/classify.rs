//! Prints one JSON line per file (directories are walked recursively), in
//! the `mailtrail classify --json` shape, using both cores. The benchmark
//! script uses it until the `mailtrail classify` command exists.
//!
//! usage: cargo run --release -p mailtrail-mail --example classify -- PATH...

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mailtrail_mail::inbound::{Action, Classification, classify};

fn main() {
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        collect(Path::new(&arg), &mut files);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let outputs: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut out = String::new();
                    for f in part {
                        match std::fs::read(f) {
                            Ok(bytes) => line(&mut out, f, &classify(&bytes)),
                            Err(e) => eprintln!("{}: {e}", f.display()),
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for o in outputs {
        print!("{o}");
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else {
        out.push(p.to_owned());
    }
}

fn s(out: &mut String, v: Option<&str>) {
    let Some(v) = v else {
        out.push_str("null");
        return;
    };
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn line(out: &mut String, file: &Path, c: &Classification) {
    let kind = c.kind.as_str();
    out.push_str("{\"file\": ");
    s(out, Some(&file.to_string_lossy()));
    let _ = write!(out, ", \"kind\": \"{kind}\", \"recipients\": [");
    for (i, r) in c.recipients.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"address\": ");
        s(out, r.address.as_deref());
        out.push_str(", \"action\": ");
        s(out, r.action.map(Action::as_str));
        out.push_str(", \"status\": ");
        s(out, r.status.as_deref());
        out.push_str(", \"reply_code\": ");
        s(out, r.reply_code.as_deref());
        let _ = write!(
            out,
            ", \"reason\": \"{}\", \"hard\": {}, \"diagnostic\": ",
            r.reason, r.hard
        );
        s(out, r.diagnostic.as_deref());
        out.push('}');
    }
    out.push_str("], \"original_message_id\": ");
    s(out, c.original_message_id.as_deref());
    out.push_str(", \"disposition\": ");
    s(out, c.disposition.as_deref());
    out.push_str(", \"feedback_type\": ");
    s(out, c.feedback_type.as_deref());
    out.push_str(", \"in_reply_to\": [");
    for (i, id) in c.in_reply_to.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        s(out, Some(id));
    }
    out.push_str("]}\n");
}
