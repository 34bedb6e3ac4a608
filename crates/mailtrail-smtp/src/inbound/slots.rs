//! Connection slots of the inbound listener, counted two ways: all
//! connections together (so the server's descriptors and memory stay
//! bounded) and per client address (so one client holding idle
//! connections cannot take every slot and lock out the servers that have
//! real bounces to deliver). A connection refused for its address takes no
//! slot from the overall count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Its address already holds as many connections as one address may
    /// (`421 4.7.0`, a policy refusal in RFC 3463's terms).
    PerClient,
    /// Every slot is taken (`421 4.3.2`, the system is not accepting
    /// network messages).
    Full,
}

/// The listener's slots.
pub(super) struct Slots {
    all: Arc<Semaphore>,
    per_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_client: usize,
}

/// A connection's hold on its slots; both are released when it drops.
pub(super) struct Slot {
    _all: OwnedSemaphorePermit,
    client: IpAddr,
    per_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Slots {
    /// `max` connections in all, `max_per_client` from one address (both at
    /// least 1).
    pub(super) fn new(max: usize, max_per_client: usize) -> Self {
        Self {
            all: Arc::new(Semaphore::new(max.max(1))),
            per_client: Arc::default(),
            max_per_client: max_per_client.max(1),
        }
    }

    /// Takes a slot for a connection from `client`, or says why not.
    pub(super) fn take(&self, client: IpAddr) -> Result<Slot, Refusal> {
        // An IPv4 client over an IPv6 socket counts as its IPv4 address.
        let client = client.to_canonical();
        let mut counts = self
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = counts.get(&client).copied().unwrap_or(0);
        if held >= self.max_per_client {
            return Err(Refusal::PerClient);
        }
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Full)?;
        counts.insert(client, held + 1);
        Ok(Slot {
            _all: all,
            client,
            per_client: self.per_client.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_and_overall_limits_are_counted_apart() {
        let slots = Slots::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        // Refused for its address: no overall slot taken.
        assert_eq!(slots.take(a).err(), Some(Refusal::PerClient));
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).err(), Some(Refusal::Full));
        drop(a1);
        assert!(slots.take(b).is_ok());
        assert!(slots.per_client.lock().unwrap().len() <= 2);
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let slots = Slots::new(10, 1);
        let _v4 = slots.take("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(
            slots.take("::ffff:192.0.2.1".parse().unwrap()).err(),
            Some(Refusal::PerClient)
        );
    }
}
