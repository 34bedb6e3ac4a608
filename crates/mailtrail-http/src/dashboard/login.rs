//! Signing in and out: `GET/POST /login`, `POST /logout`.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mailtrail_domain::EmailAddress;
use serde::Deserialize;
use time::OffsetDateTime;

use super::session::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME};
use super::signed::{CsrfForm, SignedForm};
use super::{DashError, html, see_other};
use crate::AppState;
use crate::signin::Refused;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<&'static str>,
    email: String,
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<&'static str>,
    email: String,
) -> Response {
    let csrf = session::random_token();
    let page = LoginPage {
        csrf: csrf.clone(),
        error,
        email,
    };
    match page.render() {
        Ok(body) => {
            let mut res = html(status, body);
            if let Ok(v) = HeaderValue::from_str(&session::set_cookie_at(
                state,
                LOGIN_CSRF_COOKIE,
                &csrf,
                "/login",
                3600,
            )) {
                res.headers_mut().append(SET_COOKIE, v);
            }
            res
        }
        Err(e) => DashError::Render(e).into_response(),
    }
}

/// `GET /login`.
pub(crate) async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::current(&state, &headers).await {
        Ok(Some(_)) => see_other("/"),
        _ => login_page(&state, StatusCode::OK, None, String::new()),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

/// `POST /login`: checks the password with argon2 (through the sign-in
/// guard: bounded hashing, attempt limits, the same time for unknown
/// addresses); on success starts a session and goes to the Emails page.
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, DashError> {
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !session::tokens_match(&form.csrf, expected) {
        return Err(DashError::Forbidden(
            "The sign-in form has expired. Go back, reload the page and sign in again.",
        ));
    }
    let refused = || {
        login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That address and password do not match an account."),
            form.email.clone(),
        )
    };
    let user = match EmailAddress::parse(form.email.trim()) {
        Ok(address) => state.store.user_by_email(&address).await?,
        Err(_) => None,
    };
    let client = state.tracking.client_ip(&headers, &extensions);
    let matched = state
        .signin
        .attempt(
            &form.email,
            client,
            user.as_ref().map(|u| u.password_hash.clone()),
            form.password.clone(),
        )
        .await
        .map_err(|r| match r {
            Refused::RateLimited(wait) => DashError::TooManyAttempts(wait.as_secs().max(1)),
            Refused::Busy => DashError::Busy,
        })?;
    let Some(user) = user.filter(|_| matched) else {
        return Ok(refused());
    };
    let id = session::start(&state, user.id).await?;
    let mut res = see_other("/");
    let cookie = session::set_cookie(
        &state,
        SESSION_COOKIE,
        &id,
        SESSION_LIFETIME.whole_seconds(),
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

/// `POST /logout`: ends the session and clears the cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedForm(_, _): SignedForm<CsrfOnly>,
) -> Result<Response, DashError> {
    if let Some(id) = session::cookie(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&session::hash_session_id(id), OffsetDateTime::now_utc())
            .await?;
    }
    let mut res = see_other("/login");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&state, SESSION_COOKIE, "", 0)) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

impl CsrfForm for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
