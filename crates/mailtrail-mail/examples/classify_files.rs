//! Profiling harness for the classifier alone (no server binary to link):
//! classifies the files named on standard input, one path a line, on one
//! thread.
//!
//! ```text
//! cd ../shared/corpora/bounces && find sisimai/bsd flufl -type f | sort > /tmp/files
//! cargo build --release -p mailtrail-mail --example classify_files
//! valgrind --tool=callgrind target/release/examples/classify_files < /tmp/files
//! classify_files 20 < /tmp/files        # 20 passes, time per pass
//! classify_files 1 debug < /tmp/files   # one line per file, to diff
//! ```

use std::io::BufRead;

fn main() {
    let passes: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let debug = std::env::args().nth(2).as_deref() == Some("debug");
    let names: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .collect();
    let files: Vec<(String, Vec<u8>)> = names
        .into_iter()
        .filter_map(|n| match std::fs::read(&n) {
            Ok(b) => Some((n, b)),
            Err(e) => {
                eprintln!("{n}: {e}");
                None
            }
        })
        .collect();
    if debug {
        for (name, bytes) in &files {
            println!("{name}\t{:?}", mailtrail_mail::inbound::classify(bytes));
        }
        return;
    }
    let start = std::time::Instant::now();
    let mut recipients = 0;
    for _ in 0..passes {
        for (_, bytes) in &files {
            recipients += mailtrail_mail::inbound::classify(bytes).recipients.len();
        }
    }
    eprintln!(
        "{} files, {recipients} recipients, {:?} per pass",
        files.len(),
        start.elapsed() / passes
    );
}
