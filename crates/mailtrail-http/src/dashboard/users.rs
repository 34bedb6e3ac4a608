//! User management for administrators (`/admin/users`): list the
//! organisation's users, add one (the same path as `mailtrail user add`:
//! [`mailtrail_store::add_user`]), grant or take the administrator flag,
//! remove a user. Never oneself, never the last administrator; anyone
//! else gets a 403 page. Every form carries the session's CSRF token.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_domain::EmailAddress;
use mailtrail_store::{Session, UserChange};
use serde::Deserialize;
use uuid::Uuid;

use super::signed::{Chrome, CsrfForm, SignedForm, SignedIn};
use super::view::when;
use super::{DashError, html, see_other};
use crate::AppState;
use mailtrail_domain::credentials::{MIN_PASSWORD_CHARS, PasswordError};
use mailtrail_store::{AddUserError, add_user};

const NOT_ADMIN: &str = "Only an administrator of the organisation can manage its users.";

struct UserRow {
    id: String,
    email: String,
    is_admin: bool,
    created: String,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    admins: usize,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The add form as entered, when it was refused.
    email: String,
    admin_checked: bool,
    min_password: usize,
}

/// The session of an administrator's page or form; 403 for anyone else.
fn admin_only(s: Session) -> Result<Session, DashError> {
    if s.user.is_admin {
        Ok(s)
    } else {
        Err(DashError::Forbidden(NOT_ADMIN))
    }
}

async fn users_page(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    input: Option<(String, bool)>,
) -> Result<Response, DashError> {
    let users = state.store.users(s.user.org_id).await?;
    let admins = users.iter().filter(|u| u.is_admin).count();
    let (email, admin_checked) = input.unwrap_or_default();
    let page = UsersPage {
        chrome: s.into(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                email: u.email.as_str().to_owned(),
                is_admin: u.is_admin,
                created: when(u.created_at),
                is_me: u.id == s.user.id,
            })
            .collect(),
        admins,
        notice,
        error,
        email,
        admin_checked,
        min_password: MIN_PASSWORD_CHARS,
    };
    Ok(html(status, page.render()?))
}

/// `GET /admin/users`.
pub(crate) async fn list(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let s = admin_only(s)?;
    let notice = match raw.as_deref() {
        Some("done=added") => Some("The user is added. Give them their address and password."),
        Some("done=changed") => Some("The administrator flag is changed."),
        Some("done=removed") => {
            Some("The user is removed; their emails stay with the organisation.")
        }
        _ => None,
    };
    users_page(&state, &s, StatusCode::OK, notice, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

/// `POST /admin/users`: adds a user to the organisation.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<AddForm>,
) -> Result<Response, DashError> {
    let s = admin_only(s)?;
    let is_admin = form.admin.is_some();
    let input = Some((form.email.clone(), is_admin));
    let refuse = |status, message: String| {
        users_page(&state, &s, status, None, Some(message), input.clone())
    };
    let email = match EmailAddress::parse(form.email.trim()) {
        Ok(e) => e,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "Address: “{}” is not an email address ({e}).",
                    form.email.trim()
                ),
            )
            .await;
        }
    };
    match add_user(
        &*state.store,
        s.user.org_id,
        &email,
        &form.password,
        is_admin,
    )
    .await
    {
        Ok(user) => {
            tracing::info!(user.id = %user.id, org.id = %s.user.org_id, admin = is_admin, "user added from the dashboard");
            Ok(see_other("/admin/users?done=added"))
        }
        Err(AddUserError::Password(PasswordError::TooShort)) => {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("Password: it must be at least {MIN_PASSWORD_CHARS} characters."),
            )
            .await
        }
        Err(AddUserError::Exists(_)) => {
            refuse(
                StatusCode::CONFLICT,
                format!(
                    "Address: {email} already has an account (in this or another organisation)."
                ),
            )
            .await
        }
        Err(AddUserError::Store(e)) => Err(e.into()),
        Err(e @ AddUserError::Password(PasswordError::Hash(_))) => {
            tracing::error!(error = %e, "adding a user failed");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The password could not be stored. Try again.".to_owned(),
            )
            .await
        }
    }
}

fn user_id(raw: &str) -> Result<Uuid, DashError> {
    Uuid::parse_str(raw.trim()).map_err(|_| DashError::NotFound)
}

#[derive(Deserialize)]
pub(crate) struct AdminForm {
    csrf: String,
    user_id: String,
    /// `1` to grant the flag, `0` to take it.
    admin: String,
}

/// `POST /admin/users/admin`: grants or takes the administrator flag.
pub(crate) async fn set_admin(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<AdminForm>,
) -> Result<Response, DashError> {
    let s = admin_only(s)?;
    let id = user_id(&form.user_id)?;
    let grant = match form.admin.as_str() {
        "1" => true,
        "0" => false,
        _ => {
            return Err(DashError::BadRequest(
                "The administrator flag must be 1 or 0.",
            ));
        }
    };
    match state
        .store
        .set_user_admin(s.user.org_id, id, grant)
        .await?
    {
        UserChange::Changed => {
            tracing::info!(user.id = %id, org.id = %s.user.org_id, admin = grant, "administrator flag changed");
            if id == s.user.id && !grant {
                // No longer an administrator: the users page is not theirs.
                return Ok(see_other("/settings"));
            }
            Ok(see_other("/admin/users?done=changed"))
        }
        UserChange::NotFound => Err(DashError::NotFound),
        UserChange::LastAdmin => {
            users_page(
                &state,
                &s,
                StatusCode::CONFLICT,
                None,
                Some("That is the organisation's last administrator: make someone else an administrator first.".to_owned()),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    csrf: String,
    user_id: String,
}

/// `POST /admin/users/remove`: removes a user (not oneself, never the
/// last administrator); their emails stay with the organisation.
pub(crate) async fn remove(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<RemoveForm>,
) -> Result<Response, DashError> {
    let s = admin_only(s)?;
    let id = user_id(&form.user_id)?;
    if id == s.user.id {
        return users_page(
            &state,
            &s,
            StatusCode::BAD_REQUEST,
            None,
            Some("You cannot remove yourself. Another administrator can.".to_owned()),
            None,
        )
        .await;
    }
    match state
        .store
        .delete_user(s.user.org_id, id, s.user.id)
        .await?
    {
        UserChange::Changed => {
            tracing::info!(user.id = %id, org.id = %s.user.org_id, "user removed");
            Ok(see_other("/admin/users?done=removed"))
        }
        UserChange::NotFound => Err(DashError::NotFound),
        UserChange::LastAdmin => {
            users_page(
                &state,
                &s,
                StatusCode::CONFLICT,
                None,
                Some(
                    "That is the organisation's last administrator and cannot be removed."
                        .to_owned(),
                ),
                None,
            )
            .await
        }
    }
}

impl CsrfForm for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for AdminForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for RemoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
