//! The DKIM signing ceiling of this machine: how many copies per second
//! mailtrail's signer can sign when every core does nothing but sign.
//!
//! `benches/outbound.sh` runs it in the same run as its two halves and
//! prints the ceiling beside the reference rate: every copy carries its own
//! tracking tokens in its body, so every copy needs its own signature
//! (RFC 6376 section 3.7: the body hash and the signature cover the whole
//! body), and no sending path can go faster than this figure. The work is
//! exactly what the worker does per copy: relaxed canonicalization and
//! SHA-256 of the body and headers, then one private-key operation.
//!
//! usage: `cargo bench --bench dkim_ceiling -- KEY.pem MESSAGE.eml [SECONDS]`
//! (MESSAGE.eml with LF or CRLF line ends; it needs a From header). Prints
//! `signatures/s: N`, `cpu per signature: N ms` and `threads: N`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mailtrail_mail::dkim::{DkimKey, Signer};

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` to harness-less benches: skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(key), Some(message)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: dkim_ceiling KEY.pem MESSAGE.eml [SECONDS]");
    };
    let seconds: f64 = match args.get(2) {
        Some(s) => s.parse().context("SECONDS must be a number")?,
        None => 3.0,
    };
    let pem = std::fs::read_to_string(key).with_context(|| format!("reading {key}"))?;
    let signer = Signer::new(
        "example.test",
        "bench",
        DkimKey::from_pem(&pem).context("the key")?,
    )?;
    let raw = std::fs::read(message).with_context(|| format!("reading {message}"))?;
    let message = crlf(&raw);
    signer.sign(&message).context("signing the message once")?;

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let signer = Arc::new(signer);
    let message = Arc::new(message);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (signer, message, stop, count) =
                (signer.clone(), message.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if signer.sign(&message).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    let n = count.load(Ordering::Relaxed);
    println!("threads: {threads}");
    println!("signatures/s: {:.0}", n as f64 / elapsed);
    println!(
        "cpu per signature: {:.3} ms",
        cpu * 1000.0 / n.max(1) as f64
    );
    Ok(())
}

/// LF line ends to CRLF (RFC 5322 section 2.1), as the worker's copies
/// have them.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// User plus system CPU time of this process, from /proc/self/stat (fields
/// 14 and 15, in clock ticks; Linux's USER_HZ is 100).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After ')' the fields start at field 3, so utime (14) is index 11.
    (ticks(11) + ticks(12)) / 100.0
}
