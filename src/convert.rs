//! `mailtrail convert [--tnef] [-o DIR] FILE_OR_DIR...`: Outlook `.msg`
//! (and TNEF `winmail.dat`) files to `.eml`, one per input, on every core.
//!
//! Directories are walked (entries sorted, symbolic links to directories
//! not followed) for `.msg`, `.tnef` and `winmail.dat` files. Without `-o`
//! each `.eml` is written beside its input; with `-o DIR` under `DIR`,
//! keeping the path below a walked directory so equal names do not clash.
//! On a terminal a progress bar shows files, bytes, rate and time left;
//! otherwise each file gives one line on standard output and a summary
//! ends the run. A file that fails is reported with its error, the others
//! are still converted, and the command then fails.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use mailtrail_outlook::EmlOptions;

/// One input and where its `.eml` goes.
struct Job {
    input: PathBuf,
    output: PathBuf,
    bytes: u64,
}

/// Runs the command.
pub fn run(paths: &[PathBuf], tnef: bool, out_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    for path in paths {
        collect(path, out_dir, &mut jobs)?;
    }
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let total_bytes = jobs.iter().map(|j| j.bytes).sum();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total_bytes);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30} {msg} files, {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let options = EmlOptions { tnef };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<(), String>)>();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len().max(1));
    let (mut done, mut failed) = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (jobs, next) = (&jobs, &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if tx.send((i, convert_one(job, options))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            let job = &jobs[i];
            done += 1;
            let line = match &result {
                Ok(()) => format!("ok\t{}\t{}", job.input.display(), job.output.display()),
                Err(e) => {
                    failed += 1;
                    format!("error\t{}\t{e}", job.input.display())
                }
            };
            match &bar {
                Some(bar) => {
                    if result.is_err() {
                        bar.println(line);
                    }
                    bar.inc(job.bytes);
                    bar.set_message(format!("{done}/{}", jobs.len()));
                }
                None => {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = format!(
        "converted {} of {} file(s), {failed} failed",
        done - failed,
        jobs.len()
    );
    match &bar {
        Some(_) => eprintln!("{summary}"),
        None => {
            let _ = writeln!(out, "{summary}");
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) could not be converted");
    }
    Ok(())
}

fn convert_one(job: &Job, options: EmlOptions) -> Result<(), String> {
    if job.output == job.input {
        return Err("the .eml would overwrite its input; give -o DIR".into());
    }
    let bytes = std::fs::read(&job.input).map_err(|e| format!("cannot read: {e}"))?;
    let eml = mailtrail_outlook::convert(&bytes, options).map_err(|e| e.to_string())?;
    if let Some(parent) = job.output.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&job.output, eml)
        .map_err(|e| format!("cannot write {}: {e}", job.output.display()))
}

/// Whether a file found in a walked directory is one to convert.
fn is_outlook_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".msg") || name.ends_with(".tnef") || name == "winmail.dat"
}

fn collect(path: &Path, out_dir: Option<&Path>, jobs: &mut Vec<Job>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if meta.is_dir() {
        walk(path, path, out_dir, jobs)
    } else {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        jobs.push(job(path, &name, meta.len(), out_dir));
        Ok(())
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    out_dir: Option<&Path>,
    jobs: &mut Vec<Job>,
) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, out_dir, jobs)?;
        } else if is_outlook_file(&path) {
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            jobs.push(job(&path, &relative, len, out_dir));
        }
    }
    Ok(())
}

/// The `.eml` path: the input's with the extension replaced, under
/// `out_dir` (at `relative`) when one is given.
fn job(input: &Path, relative: &Path, bytes: u64, out_dir: Option<&Path>) -> Job {
    let base = match out_dir {
        Some(dir) => dir.join(relative),
        None => input.to_path_buf(),
    };
    Job {
        input: input.to_path_buf(),
        output: base.with_extension("eml"),
        bytes,
    }
}
