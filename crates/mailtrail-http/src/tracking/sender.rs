//! The organisations' sender networks (Settings, "Sender IP ranges"):
//! opens and clicks of an organisation's mail from these addresses are the
//! sender's own (opener `self`, rule `sender_network`), like those from
//! `--self-networks`.
//!
//! The tracking endpoints never read the database per hit (DESIGN.md
//! section 7), so the lists live here, in memory: loaded from the store at
//! start and again every minute ([`SenderNetworks::load`], for changes
//! made through another node) and replaced whenever Settings saves
//! ([`SenderNetworks::set`]). A hit takes a read lock and scans the list of
//! the organisation its token names, without allocating. A token issued
//! before tokens named their organisation matches no list, as it matches
//! no "this is my device" cookie.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;
use mailtrail_store::StoreError;
use mailtrail_store::prelude::*;
use uuid::Uuid;

use super::opener::canonical;

/// Every organisation's sender networks.
#[derive(Debug, Default)]
pub struct SenderNetworks {
    inner: RwLock<Lists>,
}

#[derive(Debug, Default)]
struct Lists {
    by_org: HashMap<Uuid, Vec<IpNet>>,
}

impl SenderNetworks {
    /// Replaces an organisation's networks (after Settings stored them).
    pub fn set(&self, org_id: Uuid, networks: Vec<IpNet>) {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if networks.is_empty() {
            g.by_org.remove(&org_id);
        } else {
            g.by_org.insert(org_id, networks);
        }
    }

    /// Replaces every list with what the store holds. A stored entry that
    /// does not parse (written by hand) is logged and skipped. Returns how
    /// many networks are loaded.
    pub async fn load(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut by_org: HashMap<Uuid, Vec<IpNet>> = HashMap::new();
        for (org_id, text) in store.all_sender_networks().await? {
            match crate::networks::parse_network(&text) {
                Some(net) => by_org.entry(org_id).or_default().push(net),
                None => {
                    tracing::warn!(org.id = %org_id, network = %text, "stored sender network is not a CIDR network; skipped");
                }
            }
        }
        let count = by_org.values().map(Vec::len).sum();
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        g.by_org = by_org;
        Ok(count)
    }

    /// Whether `ip` is in the sender networks of organisation `org_id`.
    pub fn contains(&self, org_id: Uuid, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        g.by_org
            .get(&org_id)
            .is_some_and(|nets| nets.iter().any(|n| n.contains(&ip)))
    }
}

/// How often the organisations' sender networks are read again, so that a
/// change saved through another node sharing the database applies here
/// too (this node's own changes apply at once).
const REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

impl super::Tracking {
    /// Reloads the sender networks into memory every minute until `stop`
    /// turns true: one query a minute, never one per hit. A failed reload
    /// keeps the lists already in memory.
    pub async fn refresh_sender_networks(
        self,
        store: std::sync::Arc<dyn Store>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(REFRESH) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = self.sender_networks().load(&*store).await {
                tracing::warn!(error = %e, "reloading the sender networks failed; keeping the ones in memory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_organisation_has_its_own_networks() {
        let s = SenderNetworks::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(!s.contains(a, ip("203.0.113.9")));
        s.set(a, vec!["203.0.113.0/24".parse().unwrap()]);
        s.set(b, vec!["2001:db8::/48".parse().unwrap()]);
        assert!(s.contains(a, ip("203.0.113.9")));
        // Another organisation's network is not this one's.
        assert!(!s.contains(b, ip("203.0.113.9")));
        assert!(!s.contains(a, ip("2001:db8::1")));
        // An IPv4-mapped IPv6 peer address is the IPv4 address.
        assert!(s.contains(a, ip("::ffff:203.0.113.9")));
        assert!(s.contains(b, ip("2001:db8::1")));
        s.set(a, vec!["198.51.100.0/24".parse().unwrap()]);
        assert!(!s.contains(a, ip("203.0.113.9")));
        assert!(s.contains(a, ip("198.51.100.1")));
        s.set(b, Vec::new());
        assert!(!s.contains(b, ip("2001:db8::1")));
    }
}
