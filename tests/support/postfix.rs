//! A private Postfix instance on loopback: the smarthost that the
//! real-peer tests send through.
//!
//! Each [`Postfix`] owns a temporary directory holding its own `main.cf`,
//! `master.cf`, queue, data directory, Maildirs and log, and listens on a
//! free 127.0.0.1 port. It is started with `postfix -c DIR start`, so the
//! system instance (`/etc/postfix`) is neither read nor touched, and many
//! instances can run side by side. What was needed, learnt by running it:
//!
//! - Root: `postfix start` must run as root (master binds, then drops to
//!   `mail_owner`). A non-default `-c DIR` needs no
//!   `alternate_config_directories` when the caller is root.
//! - `queue_directory` may be empty: `postfix start` runs `postfix check`,
//!   which creates the queue subdirectories with the right owners.
//!   `data_directory` and the Maildir base must be owned by `postfix`.
//!   Every ancestor of the directory must be searchable by `postfix`.
//! - `maillog_file` (Postfix >= 3.4, written by the `postlog` service) keeps
//!   the log inside the directory, since test machines run no syslog; its
//!   directory must be listed in `maillog_file_prefixes`. Without a tty,
//!   `postfix` prints its fatal errors only there, so failures quote it.
//! - No service is chrooted (the `n` column), so nothing must be copied.
//! - `default_transport = error:...`: a recipient in any other domain is
//!   refused at RCPT (`550 5.1.1 ... this test relay delivers only to
//!   example.test`), and notices Postfix itself sends (success DSNs to the
//!   envelope sender, bounces) end in the `error` agent, so the instance
//!   never makes a DNS lookup or connects anywhere. Routes out (for example
//!   to mailtrail's inbound listener) go through
//!   [`PostfixOptions::transports`].
//! - Delivery is by the `virtual` agent into
//!   `mail/example.test/LOCAL/{new,cur}`, files owned by `postfix`; an
//!   address not in `virtual_mailbox_maps` (a `texthash:` table, which needs
//!   no `postmap`) is refused at RCPT with `550 5.1.1`. DSN is advertised in
//!   EHLO by default (RFC 3461).
//! - `postfix stop` returns at once; the master then exits and its pid can
//!   linger as a zombie, so liveness is read from `/proc/PID/stat`.
//!
//! The calls block (a start takes about half a second, the first one on a
//! machine about two); only [`Postfix::wait_for_maildir_async`] yields.

// The one test binary uses only part of the harness.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// The domain whose mailboxes the instance holds.
pub const DOMAIN: &str = "example.test";

/// The `postfix` command of Debian's `postfix` package.
const POSTFIX: &str = "/usr/sbin/postfix";

/// How long start-up and shutdown may take before the harness gives up.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a test can change about an instance.
#[derive(Debug, Clone, Default)]
pub struct PostfixOptions {
    /// Local parts with a Maildir at [`DOMAIN`]; any other address there is
    /// refused at RCPT with `550 5.1.1`.
    pub mailboxes: Vec<String>,
    /// `transport_maps` entries, e.g. `("bounces.test", "smtp:[127.0.0.1]:2525")`,
    /// for mail that must leave the instance; other domains are refused.
    pub transports: Vec<(String, String)>,
    /// Extra `main.cf` lines (`name`, `value`), written last so they win.
    pub main_cf: Vec<(String, String)>,
}

/// A running private Postfix instance; stopped when dropped.
pub struct Postfix {
    /// The SMTP port on 127.0.0.1 (the same across [`Postfix::restart`]).
    pub port: u16,
    /// Everything the instance owns: `etc/`, `queue/`, `data/`, `mail/`, `maillog`.
    pub dir: TempDir,
}

impl Postfix {
    /// Starts an instance whose mailboxes are `mailboxes` (local parts at
    /// [`DOMAIN`]) and waits until its SMTP port answers with a 220 banner.
    pub fn start(mailboxes: &[&str]) -> anyhow::Result<Postfix> {
        Self::start_with(PostfixOptions {
            mailboxes: mailboxes.iter().map(|m| (*m).to_owned()).collect(),
            ..Default::default()
        })
    }

    /// Starts an instance configured by `options`.
    pub fn start_with(options: PostfixOptions) -> anyhow::Result<Postfix> {
        preflight()?;
        let (uid, gid) = postfix_ids()?;
        let dir = tempfile::Builder::new()
            .prefix("mailtrail-postfix.")
            .tempdir()
            .context("creating the instance directory")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        check_searchable(dir.path())?;
        let port = free_port()?;
        let postfix = Postfix { port, dir };
        postfix.write_config(&options, uid, gid)?;
        postfix.launch()?;
        Ok(postfix)
    }

    /// `smtp://127.0.0.1:PORT`, the relay URL mailtrail is given.
    pub fn relay_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// `local@example.test`.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{DOMAIN}")
    }

    /// The configuration directory given to `postfix -c`.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// The instance's log so far (empty if nothing was logged yet).
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Whether the master process is alive.
    pub fn is_running(&self) -> bool {
        self.master_pid().is_some_and(process_alive)
    }

    /// Stops the instance and waits until its port refuses connections, so
    /// a client sees "connection refused" (a relay that is down).
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        self.postfix_command("stop")?;
        let deadline = Instant::now() + LIFECYCLE_TIMEOUT;
        while self.is_running()
            || TcpStream::connect_timeout(&self.socket_addr(), Duration::from_secs(1)).is_ok()
        {
            if Instant::now() > deadline {
                bail!(
                    "Postfix did not stop within {LIFECYCLE_TIMEOUT:?}\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Starts the instance again on the same port (stopping it first if it
    /// runs); mail already queued in it is kept.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// The messages delivered to `local`'s Maildir (`new/` and `cur/`),
    /// oldest first, as raw bytes; empty if nothing arrived yet.
    pub fn maildir_messages(&self, local: &str) -> anyhow::Result<Vec<Vec<u8>>> {
        let maildir = self.dir.path().join("mail").join(DOMAIN).join(local);
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let entries = match std::fs::read_dir(maildir.join(sub)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("reading {}", maildir.join(sub).display()));
                }
            };
            for entry in entries {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                files.push((modified, entry.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
            })
            .collect()
    }

    /// Waits until `local`'s Maildir holds at least `n` messages and
    /// returns them; on timeout the error quotes the instance's log.
    ///
    /// This blocks the thread. In a `#[tokio::test]` (one thread) the server
    /// under test cannot run meanwhile: call it once mailtrail has handed
    /// the copy over (status `sent`), or use [`Postfix::wait_for_maildir_async`].
    pub fn wait_for_maildir(
        &self,
        local: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(messages) =
                self.maildir_poll(local, n, timeout, Instant::now() > deadline)?
            {
                return Ok(messages);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// [`Postfix::wait_for_maildir`] that sleeps on the tokio timer, so the
    /// server sharing the test's runtime keeps running while it waits.
    pub async fn wait_for_maildir_async(
        &self,
        local: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(messages) =
                self.maildir_poll(local, n, timeout, Instant::now() > deadline)?
            {
                return Ok(messages);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// One look at the Maildir: `Some` once `n` messages are there, an error
    /// quoting the log if `expired`, else `None` (look again later).
    fn maildir_poll(
        &self,
        local: &str,
        n: usize,
        timeout: Duration,
        expired: bool,
    ) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
        let messages = self.maildir_messages(local)?;
        if messages.len() >= n {
            return Ok(Some(messages));
        }
        if expired {
            bail!(
                "{local}@{DOMAIN} has {} message(s) after {timeout:?}, expected {n}\n{}",
                messages.len(),
                self.log_tail()
            );
        }
        Ok(None)
    }

    fn write_config(&self, options: &PostfixOptions, uid: u32, gid: u32) -> anyhow::Result<()> {
        let root = self.dir.path();
        let etc = root.join("etc");
        std::fs::create_dir(&etc)?;
        std::fs::create_dir(root.join("queue"))?;
        for owned in ["data", "mail"] {
            let path = root.join(owned);
            std::fs::create_dir(&path)?;
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .with_context(|| format!("chown postfix {}", path.display()))?;
        }

        let mut vmailbox = String::new();
        for local in &options.mailboxes {
            if local.is_empty()
                || !local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
            {
                bail!(
                    "mailbox local part {local:?} must be non-empty ASCII letters, digits or ._+-"
                );
            }
            writeln!(vmailbox, "{local}@{DOMAIN} {DOMAIN}/{local}/")?;
        }
        std::fs::write(etc.join("vmailbox"), vmailbox)?;
        let mut transport = String::new();
        for (domain, nexthop) in &options.transports {
            writeln!(transport, "{domain} {nexthop}")?;
        }
        std::fs::write(etc.join("transport"), transport)?;

        let root_str = root
            .to_str()
            .context("the temporary directory's path is not UTF-8")?;
        let mut main_cf = format!(
            "# A private test instance, written by tests/support/postfix.rs.
compatibility_level = 3.6
queue_directory = {root_str}/queue
data_directory = {root_str}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root_str}/maillog
maillog_file_prefixes = {root_str}
myhostname = relay.mailtrail.test
mydomain = mailtrail.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtputf8_enable = no
biff = no
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {root_str}/mail
virtual_mailbox_maps = texthash:{root_str}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
transport_maps = texthash:{root_str}/etc/transport
default_transport = error:this test relay delivers only to {DOMAIN}
relay_transport = $default_transport
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
"
        );
        for (name, value) in &options.main_cf {
            writeln!(main_cf, "{name} = {value}")?;
        }
        std::fs::write(etc.join("main.cf"), main_cf)?;

        let master_cf = format!(
            "# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n -  0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n -  - trivial-rewrite
bounce     unix  - - n -  0 bounce
defer      unix  - - n -  0 bounce
trace      unix  - - n -  0 bounce
verify     unix  - - n -  1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -  - proxymap
proxywrite unix  - - n -  1 proxymap
smtp       unix  - - n -  - smtp
relay      unix  - - n -  - smtp
showq      unix  n - n -  - showq
error      unix  - - n -  - error
retry      unix  - - n -  - error
discard    unix  - - n -  - discard
local      unix  - n n -  - local
virtual    unix  - n n -  - virtual
lmtp       unix  - - n -  - lmtp
anvil      unix  - - n -  1 anvil
scache     unix  - - n -  1 scache
postlog    unix-dgram n - n - 1 postlogd
",
            port = self.port
        );
        std::fs::write(etc.join("master.cf"), master_cf)?;
        Ok(())
    }

    /// `postfix -c DIR start`, then waits for the 220 banner.
    fn launch(&self) -> anyhow::Result<()> {
        self.postfix_command("start")?;
        let deadline = Instant::now() + LIFECYCLE_TIMEOUT;
        loop {
            match banner(self.socket_addr()) {
                Ok(line) if line.starts_with("220") => return Ok(()),
                Ok(line) => bail!(
                    "Postfix on port {} greeted with {line:?}\n{}",
                    self.port,
                    self.log_tail()
                ),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context(format!(
                        "Postfix did not answer on port {}\n{}",
                        self.port,
                        self.log_tail()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Runs `postfix -c DIR VERB`. Its output goes to a file: the master it
    /// starts keeps inherited descriptors, so a pipe would never close.
    fn postfix_command(&self, verb: &str) -> anyhow::Result<()> {
        let log_path = self.dir.path().join("postfix-command.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let status = std::process::Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg(verb)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("running {POSTFIX} {verb}"))?;
        if !status.success() {
            let output = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!(
                "`postfix -c {} {verb}` failed ({status})\n{output}\n{}",
                self.config_dir().display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn master_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        text.trim().parse().ok()
    }

    fn log_tail(&self) -> String {
        let log = self.maillog();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- last lines of {}/maillog ---\n{tail}",
            self.dir.path().display()
        )
    }
}

impl Drop for Postfix {
    /// Best effort: stop the master so no process outlives the directory.
    fn drop(&mut self) {
        if !self.is_running() {
            return;
        }
        let _ = std::process::Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.is_running() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Fails with an actionable message when Postfix cannot be run here.
fn preflight() -> anyhow::Result<()> {
    if !Path::new(POSTFIX).exists() {
        bail!("Postfix is not installed: run scripts/test.sh (it installs it)");
    }
    let euid = std::fs::metadata("/proc/self")
        .context("reading /proc/self")?
        .uid();
    if euid != 0 {
        bail!(
            "a private Postfix instance must be started as root (postfix start binds and drops privileges); run the tests as root"
        );
    }
    Ok(())
}

/// The uid and gid of the `postfix` user, which owns Maildirs and the data directory.
fn postfix_ids() -> anyhow::Result<(u32, u32)> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = std::process::Command::new("id")
            .arg(flag)
            .arg("postfix")
            .output()
            .context("running id")?;
        if !out.status.success() {
            bail!(
                "there is no `postfix` user: is Postfix installed? (scripts/test.sh installs it)"
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    Ok((id("-u")?, id("-g")?))
}

/// Postfix daemons run as `postfix`, so every ancestor must be searchable by others.
fn check_searchable(dir: &Path) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor)?.permissions().mode();
        if mode & 0o001 == 0 {
            bail!(
                "{} is not searchable by the postfix user: set TMPDIR to a directory such as /tmp",
                ancestor.display()
            );
        }
    }
    Ok(())
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, release it).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Whether `pid` is a live process (a zombie master counts as stopped).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name (proc(5)).
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Reads the SMTP greeting (RFC 5321 section 4.3.1) and says QUIT.
fn banner(addr: SocketAddr) -> anyhow::Result<String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let _ = reader.get_mut().write_all(b"QUIT\r\n");
    Ok(line.trim_end().to_owned())
}
