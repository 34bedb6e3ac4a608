//! Fidelity against the reference tools, field by field, on the public
//! `.msg` and TNEF corpora: msgconvert (Debian libemail-outlook-message-perl)
//! and extract-msg (PyPI) for `.msg`; `tnef` and `ytnef` (Debian) for TNEF.
//! `scripts/test.sh` installs them.
//!
//! Every field where a tool reads a file differently is listed; the list
//! must equal `KNOWN`, whose entries `docs/outlook.md` explains (who is
//! right and why). A new disagreement, or one that went away, fails.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::{Address, MessageParser, MimeHeaders};
use mailtrail_outlook::{EmlOptions, msg_to_eml, tnef};
use sha2::{Digest, Sha256};

/// `file field tool` for every known disagreement (docs/outlook.md).
const KNOWN: &[&str] = &[
    // .msg against msgconvert and extract-msg.
    "ascii.msg date extract-msg",
    "attachment.msg from extract-msg",
    "attachment.msg from msgconvert",
    "attachment.msg html msgconvert",
    "extract-msg-strangeDate.msg date extract-msg",
    "extract-msg-strangeDate.msg html msgconvert",
    "test_email.msg cc msgconvert",
    "test_email.msg date extract-msg",
    "test_email.msg date msgconvert",
    "test_email.msg from extract-msg",
    "test_email.msg from msgconvert",
    "test_email.msg html msgconvert",
    "test_email_1.msg html msgconvert",
    "test_email_2.msg from extract-msg",
    "test_email_2.msg from msgconvert",
    "test_email_2.msg html msgconvert",
    "test_email_3.msg html msgconvert",
    "test_email_4.msg html msgconvert",
    "unicode.msg html msgconvert",
    // TNEF against tnef and ytnef.
    "IPM-DistList.tnef rejected-by-us tnef",
    "IPM-DistList.tnef rejected-by-us ytnef",
    "MAPI_ATTACH_DATA_OBJ.tnef attachment-bytes ytnef",
    "MAPI_ATTACH_DATA_OBJ.tnef attachment-names ytnef",
    "MAPI_OBJECT.tnef attachment-bytes tnef",
    "MAPI_OBJECT.tnef attachment-bytes ytnef",
    "MAPI_OBJECT.tnef attachment-names ytnef",
    "bad_checksum.tnef rejected-by-us tnef",
    "bad_checksum.tnef rejected-by-us ytnef",
    "data-before-name.tnef attachment-bytes ytnef",
    "data-before-name.tnef attachment-names ytnef",
    "duplicate_filename.tnef rejected-by-us tnef",
    "duplicate_filename.tnef rejected-by-us ytnef",
    "triples.tnef attachment-bytes ytnef",
    "triples.tnef attachment-names ytnef",
    "umlaut.tnef attachment-names tnef",
    "umlaut.tnef attachment-names ytnef",
];

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

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is missing: install {package} (scripts/test.sh does)"
    );
    Command::new(name)
}

/// The compared fields of one reading of a message.
#[derive(Debug, Default, PartialEq)]
struct Fields {
    subject: Option<String>,
    from: Option<String>,
    to: Vec<String>,
    cc: Vec<String>,
    date: Option<i64>,
    text: Option<String>,
    html: Option<String>,
    /// (name, size, sha256) of each attachment that is not a message.
    attachments: Vec<(String, usize, String)>,
}

fn squash(s: &str) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!s.is_empty()).then_some(s)
}

fn sha(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|a| a.address())
            .map(|s| s.to_ascii_lowercase())
            .collect()
    })
    .unwrap_or_default()
}

/// Fields of an `.eml`, ours or msgconvert's, read the same way.
fn from_eml(eml: &[u8]) -> Fields {
    let m = MessageParser::default().parse(eml).expect("parse");
    Fields {
        subject: m.subject().and_then(squash),
        from: addresses(m.from()).into_iter().next(),
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        date: m.date().map(|d| d.to_timestamp()),
        text: m.body_text(0).and_then(|t| squash(&t)),
        html: m.body_html(0).and_then(|t| squash(&t)),
        attachments: m
            .attachments()
            .filter(|a| a.message().is_none())
            .filter(|a| a.attachment_name() != Some("winmail.dat"))
            .filter(|a| !matches!(a.content_type().and_then(|c| c.subtype()), Some("rtf")))
            .map(|a| {
                (
                    a.attachment_name().unwrap_or("").to_owned(),
                    a.contents().len(),
                    sha(a.contents()),
                )
            })
            .collect(),
    }
}

/// Addresses in extract-msg's "Name <a@b>; c@d" strings.
fn listed(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split([';', ','])
        .filter_map(|p| {
            let p = p.trim();
            let a = match (p.rfind('<'), p.rfind('>')) {
                (Some(i), Some(j)) if i < j => &p[i + 1..j],
                _ => p,
            };
            a.contains('@').then(|| a.trim().to_ascii_lowercase())
        })
        .collect()
}

fn from_extract_msg(path: &Path) -> Fields {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/extract_msg_fields.py");
    let python = std::env::var("MAILTRAIL_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import extract_msg"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has,
        "extract-msg is missing: pip install extract-msg==0.57.0 (scripts/test.sh does)"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "extract-msg on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    Fields {
        subject: s("subject").as_deref().and_then(squash),
        from: listed(v["sender"].as_str()).into_iter().next(),
        to: listed(v["to"].as_str()),
        cc: listed(v["cc"].as_str()),
        date: v["date"].as_f64().map(|d| d.floor() as i64),
        text: s("body").as_deref().and_then(squash),
        html: s("html").as_deref().and_then(squash),
        attachments: v["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["size"].is_u64())
            .map(|a| {
                (
                    a["name"].as_str().unwrap_or("").to_owned(),
                    a["size"].as_u64().unwrap_or(0) as usize,
                    a["sha256"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
    }
}

fn compare(file: &str, tool: &str, ours: &Fields, theirs: &Fields, out: &mut BTreeSet<String>) {
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            println!("{file} {name} {tool}:\n  ours:   {a:.300}\n  theirs: {b:.300}");
            out.insert(format!("{file} {name} {tool}"));
        }
    };
    field(
        "subject",
        format!("{:?}", ours.subject),
        format!("{:?}", theirs.subject),
    );
    field(
        "from",
        format!("{:?}", ours.from),
        format!("{:?}", theirs.from),
    );
    field("to", format!("{:?}", ours.to), format!("{:?}", theirs.to));
    field("cc", format!("{:?}", ours.cc), format!("{:?}", theirs.cc));
    field(
        "date",
        format!("{:?}", ours.date),
        format!("{:?}", theirs.date),
    );
    field(
        "text",
        format!("{:?}", ours.text),
        format!("{:?}", theirs.text),
    );
    field(
        "html",
        format!("{:?}", ours.html),
        format!("{:?}", theirs.html),
    );
    // Order is not compared: inline images move into multipart/related.
    let names = |f: &Fields| {
        let mut n = f
            .attachments
            .iter()
            .map(|a| a.0.clone())
            .collect::<Vec<_>>();
        n.sort();
        n
    };
    field(
        "attachment-names",
        format!("{:?}", names(ours)),
        format!("{:?}", names(theirs)),
    );
    let bytes = |f: &Fields| {
        let mut b: Vec<_> = f.attachments.iter().map(|a| (a.1, a.2.clone())).collect();
        b.sort();
        b
    };
    field(
        "attachment-bytes",
        format!("{:?}", bytes(ours)),
        format!("{:?}", bytes(theirs)),
    );
}

#[test]
fn msg_fields_match_msgconvert_and_extract_msg() {
    let dir = corpora().join("msg");
    let tmp = std::env::temp_dir().join(format!("mailtrail-fidelity-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut found = BTreeSet::new();
    for path in files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        if file == "bad_outlook.msg" {
            continue;
        }
        let ours = from_eml(
            &msg_to_eml(&std::fs::read(&path).expect("read"), EmlOptions::default()).expect("ours"),
        );
        let out = tmp.join(format!("{file}.eml"));
        let status = tool("msgconvert", "libemail-outlook-message-perl")
            .arg("--outfile")
            .arg(&out)
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("msgconvert");
        if status.success() {
            compare(
                &file,
                "msgconvert",
                &ours,
                &from_eml(&std::fs::read(&out).expect("eml")),
                &mut found,
            );
        } else {
            found.insert(format!("{file} fails msgconvert"));
        }
        compare(
            &file,
            "extract-msg",
            &ours,
            &from_extract_msg(&path),
            &mut found,
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    check(found, ".msg");
}

/// Attachment (name, sha256) pairs a command extracts into a directory.
fn extracted(mut cmd: Command, dir: &Path) -> Vec<(String, String)> {
    let _ = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let data = std::fs::read(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), sha(&data))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn tnef_attachments_match_tnef_and_ytnef() {
    let dir = corpora().join("tnef");
    let tmp = std::env::temp_dir().join(format!("mailtrail-fidelity-tnef-{}", std::process::id()));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tnef"))
        .collect();
    files.sort();
    let mut found = BTreeSet::new();
    for path in files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let ours = match tnef::read(&std::fs::read(&path).expect("read")) {
            Ok(m) => {
                let mut v: Vec<_> = m
                    .attachments
                    .iter()
                    .filter(|a| a.embedded.is_none())
                    .filter_map(|a| {
                        let p = &a.props;
                        let data = p.binary(0x3701)?;
                        let name = p
                            .string(0x3707)
                            .or_else(|| p.string(0x3704))
                            .unwrap_or_default();
                        Some((name, sha(data)))
                    })
                    .collect();
                v.sort();
                Some(v)
            }
            Err(_) => None,
        };
        for (name, package) in [("tnef", "tnef"), ("ytnef", "ytnef-tools")] {
            let out = tmp.join(name).join(&file);
            std::fs::create_dir_all(&out).expect("tmp");
            let mut cmd = tool(name, package);
            if name == "tnef" {
                cmd.arg("-C").arg(&out).arg("-f").arg(&path);
            } else {
                cmd.arg("-f").arg(&out).arg(&path);
            }
            let theirs = extracted(cmd, &out);
            match &ours {
                None => {
                    found.insert(format!("{file} rejected-by-us {name}"));
                }
                Some(ours) => {
                    let names =
                        |v: &[(String, String)]| v.iter().map(|a| a.0.clone()).collect::<Vec<_>>();
                    let bytes = |v: &[(String, String)]| {
                        let mut b: Vec<_> = v.iter().map(|a| a.1.clone()).collect();
                        b.sort();
                        b
                    };
                    if names(ours) != names(&theirs) {
                        found.insert(format!("{file} attachment-names {name}"));
                    }
                    if bytes(ours) != bytes(&theirs) {
                        found.insert(format!("{file} attachment-bytes {name}"));
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    check(found, ".tnef");
}

/// The disagreements of one test must be exactly the known ones of its
/// files: a new one is a regression, a missing one a stale document.
fn check(found: BTreeSet<String>, suffix: &str) {
    for d in &found {
        println!("disagreement: {d}");
    }
    let known: BTreeSet<String> = KNOWN
        .iter()
        .filter(|k| k.split(' ').next().is_some_and(|f| f.ends_with(suffix)))
        .map(|s| (*s).to_owned())
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "disagreements not in docs/outlook.md: {new:#?}"
    );
    assert!(
        gone.is_empty(),
        "docs/outlook.md lists disagreements that are gone: {gone:#?}"
    );
}
