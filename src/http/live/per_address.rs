//! How many WebSocket connections each client address holds: a connection beyond the bound is
//! refused before the upgrade (docs/security.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::throttle::ClientAddr;

/// Open WebSocket connections per client address (IPv6 by its /64, as the rate limits count).
#[derive(Clone, Default)]
pub struct OpenPerAddress {
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open connection of an address; dropping it gives its place back.
pub struct AddressSlot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl OpenPerAddress {
    /// A place for one more connection from `client`, unless it holds `max` already.
    pub fn try_open(&self, client: ClientAddr, max: usize) -> Option<AddressSlot> {
        let key = client.limiter_key();
        let mut open = lock(&self.open);
        let count = open.entry(key.clone()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            open: Arc::clone(&self.open),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<String, usize>>) -> MutexGuard<'_, HashMap<String, usize>> {
    // A map of counters that no panic can leave half-updated.
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_places_back_when_its_connections_close() {
        let open = OpenPerAddress::default();
        let client =
            ClientAddr::resolve("192.0.2.1:1000".parse().unwrap(), &Default::default(), &[]);
        let first = open.try_open(client, 2).unwrap();
        let _second = open.try_open(client, 2).unwrap();
        assert!(open.try_open(client, 2).is_none());
        drop(first);
        assert!(open.try_open(client, 2).is_some());
    }
}
