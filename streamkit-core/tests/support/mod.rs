#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! Shared helpers: trusted peer pairs on every transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use streamkit_core::{Channel, Peer, PeerOption};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Unix,
    Inproc,
}

pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Unix, Transport::Inproc];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn endpoint(t: Transport) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    match t {
        Transport::Tcp => "tcp://127.0.0.1:0".to_string(),
        Transport::Unix => {
            let dir = std::env::temp_dir().join(format!("sk-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            format!("unix://{}/s{n}.sock", dir.display())
        }
        Transport::Inproc => format!("inproc://test-{}-{n}", std::process::id()),
    }
}

/// A peer named `name` with a fresh key.
pub fn peer(name: &str) -> Peer {
    let p = Peer::new();
    p.set_option_str(PeerOption::Name, name).unwrap();
    p.set_option_str(PeerOption::PrivateKey, &streamkit_core::generate_key())
        .unwrap();
    p
}

/// Make every peer trust every other peer.
pub fn trust_all(peers: &[&Peer]) {
    let keys: Vec<String> = peers.iter().map(|p| p.public_key().unwrap()).collect();
    let text = keys.join("\n") + "\n";
    for p in peers {
        p.set_option_str(PeerOption::AuthorizedKeys, &text).unwrap();
    }
}

/// A bound "server" and a connected "client" that trust each other.
pub async fn pair(t: Transport) -> (Peer, Peer, String) {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let ep = s.bind(&endpoint(t)).await.unwrap();
    c.connect(&ep).await.unwrap();
    assert_knows(&s, "client");
    assert_knows(&c, "server");
    (s, c, ep)
}

/// `connect` returns only once both sides know each other's names.
pub fn assert_knows(p: &Peer, name: &str) {
    assert!(
        p.peers().iter().any(|n| n == name),
        "{} does not know {name} although connect returned: {:?}",
        p.name(),
        p.peers()
    );
}

/// Wait for a background (re)connection to `name`; a liveness bound only.
pub async fn wait_for_peer(p: &Peer, name: &str) {
    for _ in 0..6000 {
        if p.peers().iter().any(|n| n == name) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never saw peer {name}: {:?}", p.name(), p.peers());
}

/// Open a channel from `from` to `to_name` and accept it on `to`.
pub async fn open_pair(
    from: &Peer,
    to: &Peer,
    to_name: &str,
    service: &str,
    headers: &[String],
) -> (Channel, Channel) {
    let a = from.open(to_name, service, headers).await.unwrap();
    let b = tokio::time::timeout(Duration::from_secs(10), to.accept())
        .await
        .expect("accept timed out")
        .unwrap();
    (a, b)
}

pub async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("operation timed out")
}

/// Wait until `cond` holds, checking every 10 ms; panics with `what` after
/// 60 s. A liveness bound only: it fails on a real hang, not on a slow machine.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened within 60 s: {what}");
}

/// A round trip on a fresh channel between `from` and `to`: everything the
/// connection carried before it has been handled on both sides.
pub async fn round_trip(from: &Peer, to: &Peer, to_name: &str) {
    let (a, b) = open_pair(from, to, to_name, "barrier", &[]).await;
    a.write_frame(b"ping").await.unwrap();
    assert_eq!(
        within(60, b.read_frame()).await.unwrap().as_deref(),
        Some(&b"ping"[..])
    );
    b.write_frame(b"pong").await.unwrap();
    assert_eq!(
        within(60, a.read_frame()).await.unwrap().as_deref(),
        Some(&b"pong"[..])
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}
