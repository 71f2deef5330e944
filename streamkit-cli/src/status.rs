//! `streamkit serve`'s status dump: on SIGUSR1 it writes its connections and
//! the channels it is serving, with their statistics, to stderr.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use streamkit_core::{Channel, Peer};

/// The channels being served now, by channel id.
#[derive(Clone, Default)]
pub struct Served(Arc<Mutex<BTreeMap<u64, Channel>>>);

impl Served {
    /// Register `ch` until the returned guard is dropped.
    pub fn track(&self, ch: &Channel) -> Tracked {
        if let Ok(mut m) = self.0.lock() {
            m.insert(ch.id(), ch.clone());
        }
        Tracked {
            served: self.clone(),
            id: ch.id(),
        }
    }

    fn channels(&self) -> Vec<Channel> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Unregisters its channel when dropped.
pub struct Tracked {
    served: Served,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Ok(mut m) = self.served.0.lock() {
            m.remove(&self.id);
        }
    }
}

/// Bytes in a readable unit.
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.1} GiB", f / (K * K * K))
    }
}

/// The status report: one line per connection, then one per channel.
pub fn report(peer: &Peer, served: &Served) -> String {
    let conns = peer.stats();
    let chans = served.channels();
    let mut out = format!(
        "streamkit: status: {} connection{}, {} channel{} served\n",
        conns.len(),
        if conns.len() == 1 { "" } else { "s" },
        chans.len(),
        if chans.len() == 1 { "" } else { "s" }
    );
    for c in &conns {
        let rtt = c.rtt_ms.map_or("-".to_string(), |r| format!("{r:.2} ms"));
        out += &format!(
            "  connection {} via {} key {}: up {:.1} s, rtt {rtt}, {} open channel{}, sent {}, received {}\n",
            c.peer,
            c.endpoint,
            if c.fingerprint.is_empty() { "-" } else { &c.fingerprint },
            c.connected_ms / 1e3,
            c.channels,
            if c.channels == 1 { "" } else { "s" },
            bytes(c.bytes_sent),
            bytes(c.bytes_received)
        );
    }
    for ch in &chans {
        let s = ch.stats();
        out += &format!(
            "  channel {} {} {:?}: sent {} in {} frames, received {} in {} frames, {} unread, window {}, waited for credit {:.0} ms, data unread {:.0} ms\n",
            ch.id(),
            ch.remote_peer(),
            ch.service(),
            bytes(s.bytes_sent),
            s.frames_sent,
            bytes(s.bytes_received),
            s.frames_received,
            bytes(s.recv_buffered as u64),
            bytes(s.recv_window as u64),
            s.send_blocked_ms,
            s.recv_unread_ms
        );
    }
    out
}

/// Completes each time the process gets SIGUSR1 (never, where there are no
/// such signals or the handler cannot be installed).
pub struct DumpSignal {
    #[cfg(unix)]
    sig: Option<tokio::signal::unix::Signal>,
}

impl DumpSignal {
    pub fn new() -> DumpSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            DumpSignal {
                sig: signal(SignalKind::user_defined1()).ok(),
            }
        }
        #[cfg(not(unix))]
        DumpSignal {}
    }

    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.sig.as_mut() {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}
