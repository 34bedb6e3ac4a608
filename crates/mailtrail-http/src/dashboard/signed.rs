//! The opening every dashboard handler shares, written once as axum
//! extractors: [`SignedIn`] for a page (no live session: to the sign-in
//! page) and [`SignedForm`] for a form (a live session and its CSRF
//! synchronizer token, OWASP's pattern; else 403).

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use mailtrail_store::{Organisation, Session};
use serde::de::DeserializeOwned;

use super::{DashError, session};
use crate::AppState;

/// What every signed-in page's frame needs: who is signed in, and the CSRF
/// token of the sign-out form.
pub(crate) struct Chrome {
    pub(crate) email: String,
    pub(crate) csrf: String,
    /// Administrators also see the Users page in the navigation.
    pub(crate) is_admin: bool,
}

impl From<&Session> for Chrome {
    fn from(s: &Session) -> Self {
        Self {
            email: s.user.email.as_str().to_owned(),
            csrf: s.csrf_token.clone(),
            is_admin: s.user.is_admin,
        }
    }
}

/// The live session of a page request.
pub(crate) struct SignedIn(pub(crate) Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, DashError> {
        session::for_page(state, &parts.headers).await.map(Self)
    }
}

/// The organisation of the signed-in user.
pub(crate) async fn own_organisation(
    state: &AppState,
    s: &Session,
) -> Result<Organisation, DashError> {
    state
        .store
        .organisation(s.user.org_id)
        .await?
        .ok_or(DashError::NotFound)
}

/// A form that carries the session's CSRF token.
pub(crate) trait CsrfForm {
    /// The token the form carried.
    fn csrf(&self) -> &str;
}

/// A form submission (`application/x-www-form-urlencoded`) from a live
/// session whose CSRF token it carries: the session and the form.
pub(crate) struct SignedForm<T>(pub(crate) Session, pub(crate) T);

impl<T> FromRequest<AppState> for SignedForm<T>
where
    T: CsrfForm + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = session::for_form(state, &headers, form.csrf())
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(session, form))
    }
}
