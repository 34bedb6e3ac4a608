//! Converting each `.msg` of a folder to `.eml`, in process: prints one
//! line per file, `file<TAB>microseconds per conversion`, the mean of as
//! many runs as fit in about 200 ms. `benches/outlook/run.sh` compares it
//! with the reference tools on the same files.
//!
//! usage: cargo bench -p mailtrail-outlook --bench convert -- DIR

use std::time::{Duration, Instant};

use mailtrail_outlook::{EmlOptions, convert};

fn main() {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("usage: convert DIR");
        std::process::exit(2);
    };
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("cannot read {dir}: {e}");
            std::process::exit(2);
        }
    };
    files.sort();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if convert(&bytes, EmlOptions::default()).is_err() {
            continue;
        }
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < Duration::from_millis(200) || runs < 3 {
            std::hint::black_box(convert(std::hint::black_box(&bytes), EmlOptions::default()).ok());
            runs += 1;
        }
        let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("{name}\t{micros:.1}");
    }
}
