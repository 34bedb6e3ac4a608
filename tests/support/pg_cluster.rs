//! A private PostgreSQL cluster on a free loopback port, for the tests
//! that stop and start the database server itself (the shared one on
//! 5432 serves every other test at the same time and must stay up).

use std::path::PathBuf;
use std::process::Command;

/// A cluster in a temporary directory, stopped when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// The newest installed server's binaries (Debian's layout).
fn server_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("pg_ctl").exists() && b.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().unwrap_or_else(|| {
        panic!(
            "this test needs PostgreSQL's server programs (initdb, pg_ctl) under \
             /usr/lib/postgresql/*/bin: the Debian package postgresql, which \
             scripts/test.sh installs"
        )
    })
}

/// `program args` as the `postgres` user when running as root (initdb and
/// the server refuse to run as root), else as ourselves.
fn as_postgres(program: &std::path::Path, args: &[&str]) -> Command {
    if rustix_is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

fn rustix_is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// initdb (trust authentication) and start on a free port, TCP only.
    pub fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let bin = server_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the cluster's parent");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create the data dir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the data dir");
        if rustix_is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&data);
                    c
                },
                "chown the data dir to postgres",
            );
        }
        let data_s = data.to_str().expect("utf-8 path").to_owned();
        run(
            as_postgres(
                &bin.join("initdb"),
                &["-D", &data_s, "-U", "postgres", "--auth=trust", "-N"],
            ),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self { dir, bin, port };
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        self.dir
            .path()
            .join("data")
            .to_str()
            .expect("utf-8 path")
            .to_owned()
    }

    /// The server's URL for the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the stopped server and waits until it accepts connections.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            self.port
        );
        let log = format!("{}/server.log", self.data());
        run(
            as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
            ),
            "pg_ctl start",
        );
    }

    /// Stops the server the way an operator's restart does: connections
    /// are closed, in-flight transactions rolled back.
    pub fn stop(&self) {
        run(
            as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data(), "-m", "fast", "-w", "stop"],
            ),
            "pg_ctl stop",
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
        .output();
    }
}
