//! Corrupted corpus files: flipped bytes, cut files and overwritten ranges
//! of every `.msg` and TNEF sample must read or give an error, never panic.
//! A deterministic stand-in for a fuzzer run, cheap enough for every test.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::path::PathBuf;

use mailtrail_outlook::{EmlOptions, convert, rtf};

fn corpora() -> PathBuf {
    let dir = std::env::var_os("MAILTRAIL_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
        });
    assert!(
        dir.join("msg").is_dir(),
        "corpus missing at {} (set MAILTRAIL_CORPORA)",
        dir.display()
    );
    dir
}

/// xorshift64*: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let cut = rng.below(out.len());
            out.truncate(cut);
        }
        2 => {
            // Overwrite a small range with extreme values (sizes, counts).
            let i = rng.below(out.len());
            let fill = [0xFF, 0x00, 0x7F, 0x80][rng.below(4)];
            for b in out.iter_mut().skip(i).take(1 + rng.below(8)) {
                *b = fill;
            }
        }
        _ => {
            // Shift a byte: every offset after it moves.
            let i = rng.below(out.len());
            out.remove(i);
            out.push(0);
        }
    }
    out
}

#[test]
fn corrupted_samples_never_panic() {
    let dir = corpora();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tried = 0;
    for sub in ["msg", "tnef"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "msg" || e == "tnef"))
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= 400_000))
            .collect();
        files.sort();
        for path in files {
            let data = std::fs::read(&path).expect("read");
            if data.is_empty() {
                continue;
            }
            for _ in 0..40 {
                let bad = mutate(&data, &mut rng);
                let _ = convert(&bad, EmlOptions { tnef: true });
                tried += 1;
            }
        }
    }
    assert!(tried > 300, "only {tried} inputs");
}

#[test]
fn corrupted_compressed_rtf_never_panics() {
    let rtf = br"{\rtf1\ansi\ansicpg1251\fromhtml1 {\*\htmltag19 <html>}\htmlrtf {\f0 \htmlrtf0 \'cf\u1088?x\par{\*\htmltag72 </html>}}";
    let packed =
        compressed_rtf::compress_rtf(std::str::from_utf8(rtf).expect("ascii")).expect("compress");
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let bad = mutate(&packed, &mut rng);
        if let Ok(out) = rtf::decompress(&bad) {
            let _ = rtf::deencapsulate(&out);
        }
        let _ = rtf::deencapsulate(&mutate(rtf, &mut rng));
    }
}

/// Inputs a fuzzer once found to panic (`tests/regressions/`), kept so the
/// fix stays: each must read or give an error, and convert, never panic.
#[test]
fn fuzzer_findings_stay_fixed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(message) = mailtrail_outlook::read_msg(&bytes) {
            for tnef in [false, true] {
                let _ = mailtrail_outlook::to_eml(&message, EmlOptions { tnef });
            }
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
