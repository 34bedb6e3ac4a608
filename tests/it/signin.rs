//! The sign-in form under attack: a flood of wrong passwords (memory and
//! `/healthz` stay fine), timing of known and unknown addresses, and the
//! attempt limits with their back-off.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, RETRY_AFTER};

use crate::dashboard::{client, csrf_in, sign_in};
use crate::support::{Db, TestApp, binary};

/// The sign-in form's CSRF cookie and token.
async fn login_form(c: &reqwest::Client, base: &str) -> (String, String) {
    let res = c.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mailtrail_login_csrf="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .expect("login CSRF cookie");
    let csrf = csrf_in(&res.text().await.unwrap());
    (cookie, csrf)
}

/// The resident memory of process `pid`, in bytes (Linux `/proc`).
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_wrong_passwords_keeps_memory_bounded_and_health_answering() {
    let dir = tempfile::tempdir().unwrap();
    binary::admin_key(dir.path());
    // Limits high enough that every attempt reaches the password check:
    // this measures the hashing, not the limiter.
    let (child, base) = binary::spawn_server(
        dir.path(),
        &[
            ("MAILTRAIL_SIGNIN_ACCOUNT_ATTEMPTS", "100000"),
            ("MAILTRAIL_SIGNIN_ADDRESS_ATTEMPTS", "100000"),
        ],
    );
    let pid = child.id();
    // Killed however the test ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Kill(child);
    let c = client();
    let (cookie, csrf) = login_form(&c, &base).await;
    let before = resident_bytes(pid);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Resident memory, sampled every 20 ms during the flood.
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(resident_bytes(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    // /healthz, asked again and again during the flood.
    let health = {
        let done = done.clone();
        let c = client();
        let url = format!("{base}/healthz");
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut asked = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let res = c.get(&url).send().await.expect("healthz");
                assert_eq!(res.status(), StatusCode::OK);
                slowest = slowest.max(t.elapsed());
                asked += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (slowest, asked)
        })
    };

    for round in 0..2 {
        let attempts = (0..64).map(|i| {
            let c = c.clone();
            let (base, cookie, csrf) = (base.clone(), cookie.clone(), csrf.clone());
            async move {
                let res = c
                    .post(format!("{base}/login"))
                    .header(COOKIE, cookie)
                    .form(&[
                        ("email", "admin@example.test"),
                        ("password", &format!("wrong password {round} {i}")),
                        ("csrf", &csrf),
                    ])
                    .send()
                    .await
                    .expect("sign-in");
                let retry = res.headers().get(RETRY_AFTER).cloned();
                (res.status(), retry)
            }
        });
        let answers = futures::future::join_all(attempts).await;
        let checked = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
            .count();
        for (status, retry) in &answers {
            match *status {
                StatusCode::UNAUTHORIZED => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(retry.is_some(), "503 without Retry-After")
                }
                other => panic!("unexpected answer {other} (Retry-After {retry:?})"),
            }
        }
        assert!(
            checked >= 2,
            "round {round}: only {checked} of 64 were checked"
        );
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    let (slowest, asked) = health.await.unwrap();
    let after = resident_bytes(pid);
    drop(child);

    let mib = |b: u64| b / (1024 * 1024);
    eprintln!(
        "sign-in flood: resident {} MiB before, {} MiB peak, {} MiB after; /healthz slowest {slowest:?} of {asked}",
        mib(before),
        mib(peak),
        mib(after)
    );
    assert!(
        peak < 200 * 1024 * 1024,
        "peak resident memory {} MiB (before {} MiB)",
        mib(peak),
        mib(before)
    );
    assert!(
        after < 200 * 1024 * 1024,
        "resident memory after the flood {} MiB",
        mib(after)
    );
    assert!(asked >= 3, "/healthz was asked only {asked} times");
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} during the flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_take_as_long_as_known_ones() {
    let app = TestApp::spawn().await;
    let c = client();
    // Interleaved, so that both see the same load on the machine; the
    // fastest of each, the figure least disturbed by other work.
    let mut known = Duration::MAX;
    let mut unknown = Duration::MAX;
    for _ in 0..5 {
        for (email, best) in [
            ("admin@example.test", &mut known),
            ("nobody@example.test", &mut unknown),
        ] {
            let t = Instant::now();
            let res = sign_in(&app, &c, email, "not the password").await;
            *best = (*best).min(t.elapsed());
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    // Both run one Argon2 check, so they take about the same time; an
    // unknown address answered without hashing was 36 times faster.
    assert!(
        unknown * 4 > known && known * 4 > unknown,
        "known {known:?}, unknown {unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_back_off_and_hold_back_the_right_one() {
    let app = TestApp::spawn().await;
    let c = client();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..60 {
        let res = sign_in(&app, &c, "admin@example.test", &format!("guess {i}")).await;
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = res.headers().get(RETRY_AFTER).cloned();
        }
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // The first five are checked at once, then one per back-off period
    // (1 s, 2 s, ...): sixty in a few seconds are mostly refused.
    assert!(
        (5..=8).contains(&checked),
        "{checked} checked, {limited} limited"
    );
    assert_eq!(checked + limited, 60);
    let secs: u64 = retry_after
        .expect("Retry-After on 429")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&secs), "Retry-After {secs}");

    // The right password is refused too while the back-off runs...
    let res = sign_in(&app, &c, "admin@example.test", "correct horse battery").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // ...and accepted once it has passed.
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(200)).await;
    let res = sign_in(&app, &c, "admin@example.test", "correct horse battery").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_many_accounts_is_limited() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.signin_address_attempts = 3).await;
    let c = client();
    for i in 0..3 {
        let res = sign_in(&app, &c, &format!("user{i}@example.test"), "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = sign_in(&app, &c, "user9@example.test", "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(RETRY_AFTER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_forms_cookie_is_secure_under_an_https_public_url() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.public_url = Some("https://mail.example.test".into());
    })
    .await;
    let res = client().get(app.url("/login")).send().await.unwrap();
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mailtrail_login_csrf="))
        .expect("login CSRF cookie")
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/login"),
        "{cookie}"
    );
    // Under http (the test server's own URL) it cannot be Secure.
    let app = TestApp::spawn().await;
    let res = client().get(app.url("/login")).send().await.unwrap();
    let cookie = res.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!cookie.contains("Secure"), "{cookie}");
}
