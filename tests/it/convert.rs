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

#[tokio::test]
async fn api_converts_a_msg_and_names_the_body_when_it_cannot() {
    let app = crate::support::TestApp::spawn().await;
    let url = format!("http://{}/api/v1/convert?tnef=true", app.addr);
    let msg = std::fs::read(corpora().join("msg/test_email_4.msg")).unwrap();
    let res = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .body(msg)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "message/rfc822"
    );
    let eml = res.bytes().await.unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml[..])
        .unwrap();
    assert_eq!(parsed.subject(), Some("test"));
    assert!(
        parsed
            .attachments()
            .any(|a| mail_parser::MimeHeaders::attachment_name(a) == Some("winmail.dat"))
    );

    let res = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .body(&b"not an outlook file"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_outlook_file");
    assert_eq!(body["error"]["field"], "body");

    let res = app
        .client
        .post(format!("http://{}/api/v1/convert", app.addr))
        .body(&b"x"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// The dashboard's Convert page: the page carries the session's CSRF token,
/// a file posted with it comes back as .eml, one without it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_convert_page_converts_with_the_csrf_token() {
    use reqwest::header::COOKIE;
    let app = crate::support::TestApp::spawn().await;
    let c = crate::dashboard::client();
    let cookie = crate::dashboard::session(&app, &c).await;
    let (status, page) = crate::dashboard::page(&app, &c, &cookie, "/convert").await;
    assert_eq!(status, 200);
    let at = page.find("data-csrf=\"").expect("csrf on the form") + "data-csrf=\"".len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let msg = std::fs::read(corpora().join("msg/ascii.msg")).unwrap();
    let res = c
        .post(app.url("/convert/file"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", csrf)
        .body(msg.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let eml = res.bytes().await.unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml[..])
        .unwrap();
    assert_eq!(parsed.subject(), Some("creating an outlook message file"));

    let res = c
        .post(app.url("/convert/file"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", csrf)
        .body(&b"junk"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Errors leave the server in the API's JSON shape, the text kept.
    let body: serde_json::Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("Not converted: compound file"),
        "{body}"
    );

    let res = c
        .post(app.url("/convert/file"))
        .header(COOKIE, &cookie)
        .body(msg)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// The Convert page in Chromium (tests/browser/convert.mjs): two `.msg`
/// files, one of them twice under the same name, and a broken one; the
/// "Download all as .zip" button gives one .zip with each converted file
/// under a name of its own, checked here with Python's zipfile (CRC-32 of
/// every entry) and against the converter's own output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_convert_page_downloads_everything_as_a_zip() {
    use std::process::Command;
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium package (scripts/test.sh does)"
    );
    assert!(
        Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let msg = corpora().join("msg");
    let inputs = [
        msg.join("ascii.msg"),
        msg.join("test_email_4.msg"),
        msg.join("bad_outlook.msg"),
    ];
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("converted.zip");
    let app = crate::support::TestApp::spawn().await;
    let (base, script, zip_arg) = (
        app.url(""),
        format!("{root}/tests/browser/convert.mjs"),
        zip.clone(),
    );
    let files = inputs.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(base)
            .arg(crate::dashboard::EMAIL)
            .arg(crate::dashboard::PASSWORD)
            .arg(zip_arg)
            .args(files)
            .env("SCREENSHOT_DIR", format!("{root}/target/screenshots"))
            .output()
            .expect("run node (Node.js is needed for the browser tests)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the browser flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("converted 3, refused 1"), "{stdout}");
    app.stop().await;

    // The archive is whole (every CRC-32 checks) and holds the three .eml.
    let python = |args: &[&std::ffi::OsStr]| {
        let o = Command::new("python3")
            .args(["-m", "zipfile"])
            .args(args)
            .output()
            .expect("python3 is needed to check the zip");
        assert!(
            o.status.success(),
            "python3 -m zipfile {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    python(&["-t".as_ref(), zip.as_os_str()]);
    let dir = out.path().join("x");
    python(&["-e".as_ref(), zip.as_os_str(), dir.as_os_str()]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ascii (2).eml", "ascii.eml", "test_email_4.eml"]);

    let parser = mail_parser::MessageParser::default();
    for (name, source) in [
        ("ascii.eml", &inputs[0]),
        ("ascii (2).eml", &inputs[0]),
        ("test_email_4.eml", &inputs[1]),
    ] {
        let got = std::fs::read(dir.join(name)).unwrap();
        let want = mailtrail_outlook::convert(
            &std::fs::read(source).unwrap(),
            mailtrail_outlook::EmlOptions::default(),
        )
        .unwrap();
        let (got, want) = (parser.parse(&got).unwrap(), parser.parse(&want).unwrap());
        assert_eq!(got.subject(), want.subject(), "{name}");
        assert_eq!(got.body_text(0), want.body_text(0), "{name}");
        assert_eq!(got.attachment_count(), want.attachment_count(), "{name}");
    }
}
