//! The batch converter behind `mailtrail convert`: the inputs (files, and
//! directories walked for `.msg`, `.tnef` and `winmail.dat`, entries sorted,
//! symbolic links to directories not followed), where each `.eml` goes, and
//! the conversion of all of them on every core. Like `mailtrail-mail`'s
//! batch classifier it reads and writes files; the conversion itself stays
//! bytes in, bytes out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::EmlOptions;

/// One input and where its `.eml` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The `.msg` or TNEF file.
    pub input: PathBuf,
    /// The `.eml` to write.
    pub output: PathBuf,
    /// The input's size, for progress.
    pub bytes: u64,
}

/// The jobs for `paths`: without `out_dir` each `.eml` goes beside its
/// input; with it, under `out_dir`, keeping the path below a walked
/// directory, and equal names made distinct (`x.eml`, `x-2.eml`).
pub fn jobs(paths: &[PathBuf], out_dir: Option<&Path>) -> Result<Vec<Job>, String> {
    let mut jobs = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(path, path, out_dir, &mut jobs)?;
        } else {
            let name = path.file_name().map(PathBuf::from).unwrap_or_default();
            jobs.push(job(path, &name, meta.len(), out_dir));
        }
    }
    unique_outputs(&mut jobs);
    Ok(jobs)
}

/// Converts every job on every core; `done` hears of each as it finishes
/// (in completion order) with its error, if any, in words.
pub fn run(jobs: &[Job], options: EmlOptions, mut done: impl FnMut(&Job, Result<(), String>)) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<(), String>)>();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
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
            done(&jobs[i], result);
        }
    });
}

fn convert_one(job: &Job, options: EmlOptions) -> Result<(), String> {
    if job.output == job.input {
        return Err("the .eml would overwrite its input; give -o DIR".into());
    }
    let bytes = std::fs::read(&job.input).map_err(|e| format!("cannot read: {e}"))?;
    let eml = crate::convert(&bytes, options).map_err(|e| e.to_string())?;
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

fn walk(
    root: &Path,
    dir: &Path,
    out_dir: Option<&Path>,
    jobs: &mut Vec<Job>,
) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
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

/// Later jobs whose `.eml` another already writes get `-2`, `-3`, ...
fn unique_outputs(jobs: &mut [Job]) {
    let mut seen = std::collections::HashSet::new();
    for job in jobs.iter_mut() {
        let mut n = 1;
        let base = job.output.with_extension("");
        while !seen.insert(job.output.clone()) {
            n += 1;
            let mut name = base.as_os_str().to_owned();
            name.push(format!("-{n}.eml"));
            job.output = PathBuf::from(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_get_distinct_outputs() {
        let out = Path::new("/out");
        let mut jobs = vec![
            job(Path::new("a/x.msg"), Path::new("x.msg"), 1, Some(out)),
            job(Path::new("b/x.msg"), Path::new("x.msg"), 1, Some(out)),
            job(Path::new("c/x.msg"), Path::new("x.msg"), 1, Some(out)),
            job(Path::new("y.msg"), Path::new("y.msg"), 1, None),
        ];
        unique_outputs(&mut jobs);
        let outputs: Vec<_> = jobs.iter().map(|j| j.output.clone()).collect();
        assert_eq!(
            outputs,
            [
                PathBuf::from("/out/x.eml"),
                PathBuf::from("/out/x-2.eml"),
                PathBuf::from("/out/x-3.eml"),
                PathBuf::from("y.eml"),
            ]
        );
    }

    #[test]
    fn walked_directories_keep_relative_paths_and_skip_other_files() {
        let dir = std::env::temp_dir().join(format!("outlook-batch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("dir");
        for f in ["a.msg", "sub/b.MSG", "sub/winmail.dat", "notes.txt"] {
            std::fs::write(dir.join(f), b"x").expect("file");
        }
        let out = Path::new("/o");
        let found = jobs(std::slice::from_ref(&dir), Some(out)).expect("jobs");
        let outputs: Vec<_> = found.iter().map(|j| j.output.clone()).collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            outputs,
            [
                PathBuf::from("/o/a.eml"),
                PathBuf::from("/o/sub/b.eml"),
                PathBuf::from("/o/sub/winmail.eml"),
            ]
        );
    }
}
