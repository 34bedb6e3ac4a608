//! API keys on requests: the caller a bearer key names (keys are made and
//! hashed by [`mailtrail_domain::credentials`]).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use mailtrail_domain::credentials::hash_api_key;
use uuid::Uuid;

use crate::{ApiError, AppState};

/// The authenticated caller of an API request. Everything a handler reads
/// or writes is scoped to `org_id`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    /// The organisation whose data the key may see.
    pub org_id: Uuid,
    /// The key's owner, recorded as the sender of new messages.
    pub user_id: Uuid,
}

/// The key of an `Authorization: Bearer <key>` header. The scheme name is
/// case-insensitive (RFC 7235 section 2.1).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        let owner = state
            .store
            .api_key_owner(&hash_api_key(key))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("org.id", tracing::field::display(owner.org_id));
        Ok(Caller {
            org_id: owner.org_id,
            user_id: owner.user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let parts = |v: &str| {
            let req = axum::http::Request::builder()
                .header(AUTHORIZATION, v)
                .body(())
                .expect("request");
            req.into_parts().0
        };
        assert_eq!(bearer_token(&parts("Bearer k1")), Some("k1"));
        assert_eq!(bearer_token(&parts("bearer   k1 ")), Some("k1"));
        assert_eq!(bearer_token(&parts("Basic k1")), None);
        assert_eq!(bearer_token(&parts("Bearer ")), None);
        assert_eq!(bearer_token(&parts("k1")), None);
    }
}
