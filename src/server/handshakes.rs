//! Connections still in a handshake (TLS, and the web port's HTTP upgrade)
//! are not clients yet, but they hold a socket and memory all the same: they
//! count against `--max-per-ip` from the moment they are accepted, so one
//! address cannot park thousands of half-done handshakes for the length of
//! the registration timeout.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use super::state::{Refused, Shared};

/// Handshakes in progress, per address.
#[derive(Default)]
pub struct Handshakes(Mutex<HashMap<IpAddr, usize>>);

/// One handshake's place in the count; given back when dropped (done,
/// failed or timed out).
pub struct Handshake {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Handshakes {
    /// Handshakes in progress from `ip`.
    pub fn pending(&self, ip: IpAddr) -> usize {
        self.counts().get(&ip).copied().unwrap_or(0)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The address a client is known by: IPv4 for an IPv4-mapped IPv6 peer.
pub fn client_ip(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Admits a handshake from `peer` unless the address already has
/// `--max-per-ip` connections, clients and handshakes together.
pub fn begin(shared: &Arc<Shared>, peer: SocketAddr) -> Result<Handshake, Refused> {
    let ip = client_ip(peer);
    let clients = shared.lock().connections_from(ip);
    let mut counts = shared.handshakes.counts();
    let pending = counts.entry(ip).or_default();
    if clients + *pending >= shared.config.max_per_ip {
        if *pending == 0 {
            counts.remove(&ip);
        }
        return Err(Refused::TooManyFromAddress);
    }
    *pending += 1;
    Ok(Handshake { shared: shared.clone(), ip })
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let mut counts = self.shared.handshakes.counts();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}
