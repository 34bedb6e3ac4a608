//! OAuth 2.0 access tokens for `AUTHENTICATE XOAUTH2`, from a refresh
//! token (RFC 6749 section 6): the big providers' access tokens expire
//! within the hour, so one is asked for before each connection.

use std::time::Duration;

use crate::Error;
use crate::mailbox::Refresh;

/// A fresh access token from `r.token_url`. Errors name the endpoint's
/// host and what it said (RFC 6749 section 5.2: `invalid_grant` when the
/// refresh token was revoked), never a secret.
pub(crate) async fn access_token(
    r: &Refresh,
    extra_ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<String, Error> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::OAuth(format!("tls_ca_file: {e}")))?;
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    let client = builder
        .build()
        .map_err(|e| Error::OAuth(format!("HTTP client: {e}")))?;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", r.refresh_token.as_str()),
        ("client_id", r.client_id.as_str()),
    ];
    if let Some(secret) = &r.client_secret {
        form.push(("client_secret", secret.as_str()));
    }
    let endpoint = endpoint_name(&r.token_url);
    let response = client
        .post(&r.token_url)
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::OAuth(format!("token endpoint {endpoint}: {}", e.without_url())))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::OAuth(format!("token endpoint {endpoint}: {}", e.without_url())))?;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |name: &str| json.get(name).and_then(|v| v.as_str());
    match field("access_token") {
        Some(token) if status.is_success() && !token.is_empty() => Ok(token.to_owned()),
        _ => Err(Error::OAuth(format!(
            "token endpoint {endpoint} answered {status}: {}{}",
            field("error").unwrap_or("no access_token"),
            field("error_description")
                .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                .unwrap_or_default()
        ))),
    }
}

/// The scheme and host of a token URL, for messages.
fn endpoint_name(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..]
        .find(['/', '?'])
        .map_or(url.len(), |i| after + i);
    &url[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoint_names() {
        assert_eq!(
            super::endpoint_name("https://oauth2.googleapis.com/token?x=1"),
            "https://oauth2.googleapis.com"
        );
        assert_eq!(
            super::endpoint_name("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
