//! The organisations' own DKIM keys (Settings → sending domains, RFC 6376),
//! kept parsed in memory for the delivery loop.

use std::collections::HashMap;
use std::sync::Arc;

use mailtrail_mail::dkim::{DkimKey, Signer};
use mailtrail_store::prelude::*;
use uuid::Uuid;

/// The organisations' own DKIM keys (Settings → sending domains), parsed
/// once and kept in memory: the worker re-reads the list once per batch of
/// jobs (one query, never one per copy) and parses only keys it has not
/// seen, so an added or removed domain takes effect at the next batch.
#[derive(Default)]
pub(crate) struct DomainSigners {
    /// By sending-domain id: the organisation, the domain and its signer
    /// (`None` for a key that could not be used; logged once).
    by_id: std::sync::Mutex<HashMap<Uuid, DomainSigner>>,
}

/// A sending domain's organisation, lower-case name and signer.
type DomainSigner = (Uuid, String, Option<Arc<Signer>>);

impl DomainSigners {
    pub(crate) async fn refresh(&self, store: &dyn Store) {
        let domains = match store.all_sending_domains().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading sending domains failed; keeping the keys in memory");
                return;
            }
        };
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|id, _| domains.iter().any(|d| d.id == *id));
        for d in domains {
            if map.contains_key(&d.id) {
                continue;
            }
            let signer = DkimKey::from_pem(d.private_key.expose())
                .and_then(|k| Signer::new(&d.domain, &d.selector, k));
            let signer = match signer {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    tracing::error!(error = %e, sending_domain.id = %d.id, domain = %d.domain, "sending domain key unusable; its copies fall back to the configured key");
                    None
                }
            };
            map.insert(d.id, (d.org_id, d.domain.to_ascii_lowercase(), signer));
        }
    }

    /// The signer of the organisation's domain `from_domain`, if it has one.
    pub(crate) fn lookup(&self, org_id: Uuid, from_domain: &str) -> Option<Arc<Signer>> {
        let map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.values()
            .find(|(org, domain, _)| *org == org_id && domain.eq_ignore_ascii_case(from_domain))
            .and_then(|(_, _, s)| s.clone())
    }
}
