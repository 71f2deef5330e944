//! Admission of incoming connections before authentication (like sshd's
//! MaxStartups): a bound peer handles at most [`MAX_STARTUPS`] connections
//! that have not finished authentication and the hello exchange, and at most
//! [`MAX_STARTUPS_PER_SOURCE`] of them from one source IP address. A socket
//! over either limit is closed at once, before the SSH banner and before any
//! key-exchange work, so idle or stalling sockets can hold neither CPU nor
//! more than a bounded number of descriptors and handshake buffers.

use crate::sync::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most connections a bound peer handles at once before they have
/// authenticated and exchanged HELLO; over it, new sockets are closed at once.
pub const MAX_STARTUPS: usize = 64;
/// Most of those [`MAX_STARTUPS`] from one source IP address (TCP only), so
/// one host cannot take every slot.
pub const MAX_STARTUPS_PER_SOURCE: usize = MAX_STARTUPS / 2;

/// How often at most a refusal is logged (with the count since the last log).
const LOG_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
    refused_unlogged: u64,
    last_log: Option<Instant>,
}

/// The admission counters of one peer (shared by all its listeners).
#[derive(Default)]
pub(crate) struct Startups {
    st: Mutex<State>,
}

impl Startups {
    /// A slot for a new connection from `source` (None for unix sockets), or
    /// the reason, naming the limit, when one is reached (the refusal is
    /// logged, rate-limited).
    pub(crate) fn try_admit(
        self: &Arc<Self>,
        source: Option<IpAddr>,
        from: &str,
    ) -> Result<Slot, String> {
        let mut st = lock(&self.st);
        let per_source = source.map_or(0, |ip| st.by_source.get(&ip).copied().unwrap_or(0));
        let why = if st.total >= MAX_STARTUPS {
            Some(format!(
                "{MAX_STARTUPS} connections are already authenticating (MAX_STARTUPS)"
            ))
        } else if per_source >= MAX_STARTUPS_PER_SOURCE {
            Some(format!(
                "{MAX_STARTUPS_PER_SOURCE} connections from that address are already authenticating (MAX_STARTUPS_PER_SOURCE)"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            st.refused_unlogged += 1;
            let now = Instant::now();
            if st
                .last_log
                .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
            {
                tracing::warn!(
                    "refusing connection from {from}: {why}; {} refused since the last such message",
                    st.refused_unlogged
                );
                st.refused_unlogged = 0;
                st.last_log = Some(now);
            }
            return Err(why);
        }
        st.total += 1;
        if let Some(ip) = source {
            *st.by_source.entry(ip).or_insert(0) += 1;
        }
        Ok(Slot {
            owner: self.clone(),
            source,
        })
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        lock(&self.st).total
    }
}

/// One admitted, not yet authenticated connection; the slot is given back
/// when this is dropped (hello done, or the connection ended).
pub(crate) struct Slot {
    owner: Arc<Startups>,
    source: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = lock(&self.owner.st);
        st.total = st.total.saturating_sub(1);
        if let Some(ip) = self.source {
            if let Some(n) = st.by_source.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    st.by_source.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_total_and_per_source() {
        let s = Arc::new(Startups::default());
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let mut held: Vec<Slot> = (0..MAX_STARTUPS_PER_SOURCE)
            .map(|_| s.try_admit(Some(a), "a").unwrap())
            .collect();
        assert!(s.try_admit(Some(a), "a").is_err(), "per-source share");
        held.extend(
            (0..MAX_STARTUPS - MAX_STARTUPS_PER_SOURCE).map(|_| s.try_admit(Some(b), "b").unwrap()),
        );
        assert_eq!(s.total(), MAX_STARTUPS);
        assert!(s.try_admit(None, "unix").is_err(), "global limit");
        held.pop();
        assert!(
            s.try_admit(None, "unix").is_ok(),
            "a released slot is reused"
        );
        drop(held);
        assert_eq!(s.total(), 0);
        assert!(lock(&s.st).by_source.is_empty());
    }
}
