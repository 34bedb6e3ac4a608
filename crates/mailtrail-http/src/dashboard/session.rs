//! Dashboard sign-in: passwords, session cookies and CSRF tokens.
//!
//! A session id is 32 random bytes from the operating system, sent as the
//! `mailtrail_session` cookie (`HttpOnly`, `SameSite=Lax`, `Secure` when the
//! public URL is https; RFC 6265 section 4.1 and RFC 6265bis for SameSite).
//! The store keeps only its SHA-256. Every form carries the session's CSRF
//! synchronizer token (OWASP's synchronizer token pattern); the sign-in
//! form, made before any session exists, uses a double-submit cookie.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mailtrail_store::{NewSession, Session};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::DashError;
use crate::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "mailtrail_session";
/// The double-submit cookie of the sign-in form.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "mailtrail_login_csrf";
/// How long a session lasts: a working day, so that a forgotten signed-in
/// browser does not stay open for long.
pub(crate) const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);

/// 32 random bytes, base64url: unguessable (256 bits).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hex SHA-256 under which a session id is stored.
pub(crate) fn hash_session_id(id: &str) -> String {
    format!("{:x}", Sha256::digest(id.as_bytes()))
}

/// Whether two tokens are equal, in time that does not depend on where
/// they differ.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in the request (RFC 6265 section 5.4).
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value. `max_age` of zero deletes the cookie.
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    set_cookie_at(state, name, value, "/", max_age)
}

/// A `Set-Cookie` value for `path`: `Secure` when the public URL is https,
/// so that the cookie never travels in clear (RFC 6265 section 4.1.2.5).
pub(crate) fn set_cookie_at(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> String {
    let secure = if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// Starts a session for `user_id`; returns the cookie value.
pub(crate) async fn start(state: &AppState, user_id: uuid::Uuid) -> Result<String, DashError> {
    let id = random_token();
    state
        .store
        .create_session(&NewSession {
            id_hash: hash_session_id(&id),
            user_id,
            csrf_token: random_token(),
            expires_at: OffsetDateTime::now_utc() + SESSION_LIFETIME,
        })
        .await?;
    Ok(id)
}

/// The signed-in session of the request, if any and still live.
pub(crate) async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, DashError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .store
        .session(&hash_session_id(id), OffsetDateTime::now_utc())
        .await?)
}

/// The session of a page request; without one, the browser is sent to the
/// sign-in page.
pub(crate) async fn for_page(state: &AppState, headers: &HeaderMap) -> Result<Session, DashError> {
    current(state, headers).await?.ok_or(DashError::SignIn)
}

/// The session of a form submission, with its CSRF token checked. Without
/// a live session the answer is 403 (a form must not be replayed after
/// sign-in); a token that is not this session's is 403 too.
pub(crate) async fn for_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Session, DashError> {
    let session = current(state, headers).await?.ok_or(DashError::Forbidden(
        "Your session has ended. Sign in again, then repeat what you were doing.",
    ))?;
    if !tokens_match(csrf, &session.csrf_token) {
        return Err(DashError::Forbidden(
            "This form has expired or did not come from this dashboard. Go back, reload the page and try again.",
        ));
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; mailtrail_session_x=2".parse().unwrap());
        h.append(COOKIE, "mailtrail_session=abc".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("ab", "abc"));
        assert_ne!(random_token(), random_token());
        assert_eq!(hash_session_id("x").len(), 64);
    }
}
