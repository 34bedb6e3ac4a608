//! Settings → sending domains: an administrator adds a domain, mailtrail
//! generates its DKIM key (Ed25519 or RSA-2048) and shows the DNS TXT
//! record to publish (RFC 6376 section 3.6.1); the delivery workers then
//! sign every copy whose From domain it is with that key.
//!
//! The private key is stored, never shown: the pages show only the public
//! record.

use axum::extract::State;
use axum::response::Response;
use mailtrail_mail::dkim::{DkimKey, KeyAlgorithm, Signer};
use mailtrail_store::{NewSendingDomain, PrivateKeyPem, SendingDomain, StoreError};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::signed::{CsrfForm, SignedForm};
use super::{DashError, see_other};
use crate::AppState;

/// The selector offered in the form.
pub(crate) const DEFAULT_SELECTOR: &str = "mailtrail";

/// One sending domain as the Settings page shows it.
pub(crate) struct DomainRow {
    pub(crate) id: String,
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) algorithm: &'static str,
    /// `<selector>._domainkey.<domain>`.
    pub(crate) dns_name: String,
    /// The TXT value, `v=DKIM1; k=...; p=...`.
    pub(crate) record: String,
    /// The record as a zone-file line, in quoted strings of at most 255
    /// octets (RFC 1035 section 3.3; an RSA-2048 record needs two).
    pub(crate) zone_line: String,
}

impl From<SendingDomain> for DomainRow {
    fn from(d: SendingDomain) -> Self {
        let dns_name = d.dns_name();
        let strings: Vec<String> = d
            .dns_record
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        Self {
            id: d.id.to_string(),
            zone_line: format!("{dns_name}. IN TXT ( {} )", strings.join(" ")),
            dns_name,
            domain: d.domain,
            selector: d.selector,
            algorithm: if d.algorithm == "rsa" {
                "RSA-2048"
            } else {
                "Ed25519"
            },
            record: d.dns_record,
        }
    }
}

/// The organisation's sending domains, for the Settings page.
pub(crate) async fn rows(state: &AppState, org_id: Uuid) -> Result<Vec<DomainRow>, DashError> {
    Ok(state
        .store
        .sending_domains(org_id)
        .await?
        .into_iter()
        .map(DomainRow::from)
        .collect())
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    csrf: String,
    domain: String,
    #[serde(default)]
    selector: String,
    algorithm: String,
}

/// `POST /settings/domains`: generates the key, stores the domain, and
/// goes back to Settings, where its DNS record is shown.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<AddForm>,
) -> Result<Response, DashError> {
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can add sending domains.",
        ));
    }
    let algorithm = match form.algorithm.as_str() {
        "ed25519" => KeyAlgorithm::Ed25519,
        "rsa" => KeyAlgorithm::Rsa,
        _ => {
            return Err(DashError::BadRequest(
                "Choose the key type: Ed25519 or RSA-2048.",
            ));
        }
    };
    let domain = form
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let selector = match form.selector.trim() {
        "" => DEFAULT_SELECTOR.to_owned(),
        s => s.to_ascii_lowercase(),
    };
    if !domain.contains('.') {
        return Err(DashError::BadRequest(
            "That is not a domain name: give the domain of your From addresses, such as mail.example.com.",
        ));
    }
    // RSA-2048 generation takes a moment of CPU: off the async threads.
    let pem = tokio::task::spawn_blocking(move || DkimKey::generate_pem(algorithm))
        .await
        .map_err(|_| DashError::BadRequest("The key could not be generated. Try again."))?
        .map_err(|e| {
            tracing::error!(error = %e, "DKIM key generation failed");
            DashError::BadRequest("The key could not be generated. Try again.")
        })?;
    let key = DkimKey::from_pem(&pem).map_err(|e| {
        tracing::error!(error = %e, "a generated DKIM key did not parse");
        DashError::BadRequest("The key could not be generated. Try again.")
    })?;
    let dns_record = key.dns_txt_record();
    // The signer checks the names exactly as signing will use them (RFC
    // 6376 section 3.1: a selector is a sequence of DNS labels).
    let signer = Signer::new(&domain, &selector, key).map_err(|e| match e {
        mailtrail_mail::MailError::InvalidDkimName { what: "selector", .. } => DashError::BadRequest(
            "That selector cannot be used: letters, digits, hyphens and dots only, such as mailtrail or mt2025.",
        ),
        _ => DashError::BadRequest(
            "That is not a domain name: letters, digits, hyphens and dots only (an international domain in its xn-- form), such as mail.example.com.",
        ),
    })?;
    let new = NewSendingDomain {
        id: Uuid::now_v7(),
        org_id: s.user.org_id,
        domain: signer.domain().to_owned(),
        selector: signer.selector().to_owned(),
        algorithm: algorithm.dns_name().to_owned(),
        private_key: PrivateKeyPem::new(pem),
        dns_record,
        created_at: OffsetDateTime::now_utc(),
    };
    match state.store.add_sending_domain(&new).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(DashError::BadRequest(
                "This organisation already has that sending domain. Remove it first to make a new key.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(sending_domain.id = %new.id, domain = %new.domain, selector = %new.selector, algorithm = %new.algorithm, "sending domain added");
    Ok(see_other(&format!(
        "/settings?domain_added={}#domains",
        new.id
    )))
}

#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    csrf: String,
    domain_id: String,
}

/// `POST /settings/domains/remove`: the domain's key is deleted; its
/// copies are then signed with the configured key, if any.
pub(crate) async fn remove(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<RemoveForm>,
) -> Result<Response, DashError> {
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can remove sending domains.",
        ));
    }
    let id = Uuid::parse_str(form.domain_id.trim()).map_err(|_| DashError::NotFound)?;
    if !state.store.delete_sending_domain(s.user.org_id, id).await? {
        return Err(DashError::NotFound);
    }
    tracing::info!(sending_domain.id = %id, "sending domain removed");
    Ok(see_other("/settings?domain_removed=1#domains"))
}

impl CsrfForm for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for RemoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
