//! `mailtrail convert`: the built binary on the public `.msg` and TNEF
//! corpora, with a broken file among them.

use std::path::{Path, PathBuf};

use crate::support::binary::bin;

fn corpora() -> PathBuf {
    let dir = std::env::var_os("MAILTRAIL_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"));
    assert!(
        dir.join("msg").is_dir(),
        "corpus missing: {} (set MAILTRAIL_CORPORA to the shared/corpora folder)",
        dir.join("msg").display()
    );
    dir
}

#[test]
fn converts_a_directory_reports_the_broken_file_and_fails() {
    let out = tempfile::tempdir().unwrap();
    let msg = corpora().join("msg");
    let run = bin()
        .arg("convert")
        .arg("-o")
        .arg(out.path())
        .arg(&msg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        !run.status.success(),
        "a broken input must fail the run: {stdout}"
    );
    let bad: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("error\t"))
        .collect();
    assert_eq!(bad.len(), 1, "{stdout}");
    assert!(
        bad[0].contains("bad_outlook.msg") && bad[0].contains("truncated"),
        "{stdout}"
    );
    let converted = stdout.lines().filter(|l| l.starts_with("ok\t")).count();
    assert_eq!(converted, 9, "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("converted 9 of 10"))
    );
    let eml = std::fs::read(out.path().join("unicode.eml")).expect("unicode.eml written");
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("parse");
    assert_eq!(parsed.subject(), Some("Test for TIF files"));
    assert_eq!(parsed.attachments().count(), 2);
}

#[test]
fn tnef_flag_keeps_a_winmail_dat_and_tnef_inputs_convert() {
    let out = tempfile::tempdir().unwrap();
    let dir = corpora();
    let run = bin()
        .args(["convert", "--tnef", "-o"])
        .arg(out.path())
        .arg(dir.join("msg/test_email_4.msg"))
        .arg(dir.join("tnef/two-files.tnef"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let eml = std::fs::read(out.path().join("test_email_4.eml")).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let tnef = parsed
        .attachments()
        .find(|a| mail_parser::MimeHeaders::attachment_name(*a) == Some("winmail.dat"))
        .expect("winmail.dat part");
    assert!(tnef.contents().starts_with(&[0x78, 0x9F, 0x3E, 0x22]));
    let eml = std::fs::read(out.path().join("two-files.eml")).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let names: Vec<_> = parsed
        .attachments()
        .filter_map(|a| mail_parser::MimeHeaders::attachment_name(a).map(str::to_owned))
        .collect();
    assert_eq!(names, ["AUTHORS", "README", "winmail.dat"]);
}
