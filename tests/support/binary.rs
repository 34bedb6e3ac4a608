//! The built `mailtrail` binary, run as a user runs it: for the tests that
//! need a real process (kill -9, SIGTERM, the newcomer's commands).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A command for the built binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mailtrail"))
}

/// `user add admin@example.test --admin --password-stdin` then
/// `token create`, in `cwd` (default data dir); returns the API key.
pub fn admin_key(cwd: &Path) -> String {
    let mut add = bin()
        .current_dir(cwd)
        .args([
            "user",
            "add",
            "admin@example.test",
            "--admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn mailtrail user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"a long enough password\n")
        .expect("write the password");
    assert!(add.wait().expect("user add").success(), "user add failed");
    let out = bin()
        .current_dir(cwd)
        .args(["token", "create", "--user", "admin@example.test"])
        .output()
        .expect("spawn mailtrail token create");
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 key")
        .trim()
        .to_owned()
}

/// Starts `mailtrail serve` in `cwd` on a free port with `env` added;
/// returns the child and its base URL (read from its first stdout line).
pub fn spawn_server(cwd: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = bin();
    cmd.current_dir(cwd)
        .arg("serve")
        .env("MAILTRAIL_HTTP", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn mailtrail serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the listening line");
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "server did not start: {line:?}"
    );
    (child, base)
}
