//! `mailtrail convert [--tnef] [-o DIR] FILE_OR_DIR...`: the terminal side
//! of `mailtrail_outlook::batch`. On a terminal a progress bar shows files,
//! bytes, rate and time left; otherwise each file gives one line on
//! standard output (`ok`/`error`, the input, the `.eml` or the error) and a
//! summary ends the run. A file that fails does not stop the others; the
//! command then fails.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use mailtrail_outlook::EmlOptions;
use mailtrail_outlook::batch;

/// Runs the command.
pub fn run(paths: &[PathBuf], tnef: bool, out_dir: Option<&Path>) -> anyhow::Result<()> {
    let jobs = batch::jobs(paths, out_dir).map_err(anyhow::Error::msg)?;
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
    let (mut done, mut failed) = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    batch::run(&jobs, EmlOptions { tnef }, |job, result| {
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
    });
    let summary = format!(
        "converted {} of {} file(s), {failed} failed",
        done - failed,
        jobs.len()
    );
    match &bar {
        Some(bar) => {
            bar.finish_and_clear();
            eprintln!("{summary}");
        }
        None => {
            let _ = writeln!(out, "{summary}");
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) could not be converted");
    }
    Ok(())
}
