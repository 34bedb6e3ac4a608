//! A private Dovecot IMAP server on loopback (Debian's `dovecot-imapd`),
//! for the IMAP poller tests.
//!
//! Each [`Dovecot`] owns a temporary directory with its own
//! `dovecot.conf`, run and state directories, log, a `passwd-file` of
//! users with plain passwords, and Maildirs (`mail/USER/{new,cur,tmp}`).
//! It is started with `dovecot -c CONF`, so the system instance
//! (`/etc/dovecot`) is neither read nor touched; it listens on a free
//! 127.0.0.1 port with `ssl = no` and plain-text LOGIN allowed, or, from
//! [`Dovecot::start_tls`], with implicit TLS only (an `imaps` listener,
//! `ssl = required`) and the given certificate. What was needed, learnt by
//! running Dovecot 2.3:
//!
//! - Root starts the master; mail is accessed as the `dovecot` user
//!   (`userdb static uid=dovecot`), so the Maildirs are owned by it, and
//!   every ancestor of the directory must be searchable by it.
//! - The POP3, IMAPS and submission listeners get port 0 (off) so that
//!   nothing clashes with the system's ports.
//! - `dovecot stop` needs the same `-c`; the master's pid is in
//!   `run/master.pid`.

#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

const DOVECOT: &str = "/usr/sbin/dovecot";

/// A running private Dovecot; stopped when dropped.
pub struct Dovecot {
    /// The IMAP port on 127.0.0.1.
    pub port: u16,
    /// Everything the instance owns.
    pub dir: TempDir,
    /// Implicit TLS (`imaps://`) rather than plain IMAP.
    pub tls: bool,
}

impl Dovecot {
    /// Starts an instance with `users` (address, password) and waits until
    /// its IMAP port answers.
    pub fn start(users: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with(users, None, None)
    }

    /// Starts an instance that speaks only implicit TLS (RFC 8314 section
    /// 3.3) on its port, with the PEM certificate chain and key at these
    /// paths.
    pub fn start_tls(users: &[(&str, &str)], cert: &Path, key: &Path) -> anyhow::Result<Self> {
        Self::start_with(users, Some((cert, key)), None)
    }

    /// Starts an instance that also signs users in with OAuth 2.0 bearer
    /// tokens (`AUTHENTICATE XOAUTH2` and `OAUTHBEARER`, RFC 7628): it asks
    /// the authorisation server at `introspection_url` about each token
    /// (RFC 7662 introspection, POST `token=...`), which must answer
    /// `{"active": true, "username": "<the user>"}`.
    pub fn start_oauth2(users: &[(&str, &str)], introspection_url: &str) -> anyhow::Result<Self> {
        Self::start_with(users, None, Some(introspection_url))
    }

    fn start_with(
        users: &[(&str, &str)],
        tls: Option<(&Path, &Path)>,
        introspection_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        if !Path::new(DOVECOT).exists() {
            bail!(
                "{DOVECOT} is missing: these tests need Debian's dovecot-imapd (scripts/test.sh installs it)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("mailtrail-dovecot.")
            .tempdir()
            .context("creating the instance directory")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let root = dir.path();
        for d in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let passwd: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .collect();
        std::fs::write(root.join("passwd"), passwd)?;
        let r = root.display();
        let (ssl, imap_port, imaps_port) = match tls {
            None => ("ssl = no".to_owned(), port, 0),
            Some((cert, key)) => (
                format!(
                    "ssl = required\nssl_cert = <{}\nssl_key = <{}",
                    cert.display(),
                    key.display()
                ),
                0,
                port,
            ),
        };
        let (mechanisms, oauth2_passdb) = match introspection_url {
            None => ("plain login", String::new()),
            Some(url) => {
                std::fs::write(
                    root.join("oauth2.conf"),
                    format!(
                        "introspection_mode = post\nintrospection_url = {url}\n\
                         username_attribute = username\nactive_attribute = active\n\
                         active_value = true\n"
                    ),
                )?;
                (
                    "plain login xoauth2 oauthbearer",
                    format!(
                        "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {r}/oauth2.conf\n}}\n"
                    ),
                )
            }
        };
        let conf = format!(
            r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:{r}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
{oauth2_passdb}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"#
        );
        std::fs::write(root.join("dovecot.conf"), conf)?;
        let me = Self {
            port,
            dir,
            tls: tls.is_some(),
        };
        for (user, _) in users {
            let md = me.maildir(user);
            for sub in ["new", "cur", "tmp"] {
                std::fs::create_dir_all(md.join(sub))?;
            }
        }
        me.chown_mail()?;
        // The master daemonises and keeps inherited descriptors: capturing
        // its output would wait forever, so errors are read from the log.
        let status = Command::new(DOVECOT)
            .arg("-c")
            .arg(me.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running dovecot")?;
        if !status.success() {
            bail!(
                "dovecot -c {} failed ({status}); log:\n{}",
                me.conf().display(),
                me.log()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                bail!("dovecot did not listen on port {port}:\n{}", me.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// A user's Maildir.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    /// `imap://USER:PASSWORD@127.0.0.1:PORT/INBOX` (`imaps://` with TLS),
    /// percent-encoded.
    pub fn url(&self, user: &str, password: &str) -> String {
        let enc = |s: &str| {
            s.replace('%', "%25")
                .replace('@', "%40")
                .replace(':', "%3A")
        };
        format!(
            "{}://{}:{}@127.0.0.1:{}/INBOX",
            if self.tls { "imaps" } else { "imap" },
            enc(user),
            enc(password),
            self.port
        )
    }

    /// Puts a message in a user's INBOX (as a delivery agent would: written
    /// in `tmp/`, renamed into `new/`), unseen.
    pub fn deliver(&self, user: &str, name: &str, raw: &[u8]) -> anyhow::Result<()> {
        let md = self.maildir(user);
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw)?;
        std::fs::rename(&tmp, md.join("new").join(name))?;
        self.chown_mail()
    }

    /// [`Self::deliver`] for a message that arrived at `at`: Dovecot takes
    /// a Maildir file's modification time as the message's INTERNALDATE.
    pub fn deliver_at(
        &self,
        user: &str,
        name: &str,
        raw: &[u8],
        at: std::time::SystemTime,
    ) -> anyhow::Result<()> {
        let md = self.maildir(user);
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw)?;
        std::fs::File::options()
            .write(true)
            .open(&tmp)?
            .set_modified(at)?;
        std::fs::rename(&tmp, md.join("new").join(name))?;
        self.chown_mail()
    }

    /// The Maildir flags of each message file (the part after `:2,`), by
    /// file name; a file still in `new/` has none.
    pub fn flags(&self, user: &str) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(self.maildir(user).join(sub))? {
                let name = e?.file_name().to_string_lossy().into_owned();
                let flags = name
                    .split_once(":2,")
                    .map(|(_, f)| f.to_owned())
                    .unwrap_or_default();
                out.push((name, flags));
            }
        }
        Ok(out)
    }

    fn chown_mail(&self) -> anyhow::Result<()> {
        let out = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(self.dir.path().join("mail"))
            .output()
            .context("chown")?;
        if !out.status.success() {
            bail!("chown: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(DOVECOT)
            .arg("-c")
            .arg(self.conf())
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
