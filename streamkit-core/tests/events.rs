//! Peer events: connected, disconnected, reconnecting, auth_failed,
//! refused, handshake_failed, overflow; None after shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::{Event, EventKind, Peer, PeerOption};
use support::*;

/// The next event of `kind`, skipping others; a liveness bound only.
async fn next_of(p: &Peer, kind: EventKind) -> Event {
    within(30, async {
        loop {
            let e = p.next_event().await.expect("events ended");
            if e.kind == kind {
                return e;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_and_disconnected_on_both_sides() {
    let (s, c, ep) = pair(Transport::Tcp).await;
    let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
    let ec = next_of(&c, EventKind::Connected).await;
    assert_eq!(ec.peer.as_deref(), Some("server"));
    assert_eq!(ec.endpoint.as_deref(), Some(ep.as_str()));
    assert_eq!(ec.fingerprint, Some(a.meta().remote_fingerprint()));
    assert!(ec.to_string().starts_with("connected peer=server"), "{ec}");
    let es = next_of(&s, EventKind::Connected).await;
    assert_eq!(es.peer.as_deref(), Some("client"));
    assert!(
        es.endpoint
            .as_deref()
            .unwrap()
            .starts_with("tcp://127.0.0.1:"),
        "{es}"
    );
    assert_eq!(es.fingerprint, Some(b.meta().remote_fingerprint()));
    // The server drops the client: the client hears the server's description.
    s.drop_peer("client").await.unwrap();
    let d = next_of(&c, EventKind::Disconnected).await;
    assert_eq!(d.peer.as_deref(), Some("server"));
    assert!(
        d.reason
            .as_deref()
            .unwrap()
            .contains("the remote disconnected: dropped"),
        "{d}"
    );
    let d = next_of(&s, EventKind::Disconnected).await;
    assert_eq!(d.peer.as_deref(), Some("client"));
    assert_eq!(d.reason.as_deref(), Some("dropped"));
    // After shutdown: what is queued, then None.
    s.shutdown().await.unwrap();
    within(30, async { while s.next_event().await.is_some() {} }).await;
    assert!(s.next_event().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_a_client_key() {
    let s = peer("server");
    let c = peer("client");
    // The client trusts the server; the server trusts nobody yet.
    c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
        .unwrap();
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    let err = c.connect(&ep).await.unwrap_err();
    assert_eq!(err.kind(), streamkit_core::ErrorKind::Auth, "{err}");
    let e = next_of(&s, EventKind::AuthFailed).await;
    assert_eq!(e.peer.as_deref(), Some("client"));
    assert!(
        e.endpoint
            .as_deref()
            .unwrap()
            .starts_with("tcp://127.0.0.1:"),
        "{e}"
    );
    let refused_fp = e.fingerprint.clone().unwrap();
    assert!(refused_fp.starts_with("SHA256:"), "{e}");
    next_of(&s, EventKind::HandshakeFailed).await;
    // The client learns that the server refused it.
    let e = next_of(&c, EventKind::AuthFailed).await;
    assert!(
        e.reason
            .as_deref()
            .unwrap()
            .contains("the server refused our key"),
        "{e}"
    );
    assert_eq!(e.endpoint.as_deref(), Some(ep.as_str()));
    // Trusted now: the fingerprint refused was the client's.
    s.set_option_str(PeerOption::AuthorizedKeys, &c.public_key().unwrap())
        .unwrap();
    c.connect(&ep).await.unwrap();
    let ok = next_of(&s, EventKind::Connected).await;
    assert_eq!(ok.fingerprint, Some(refused_fp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_a_server_host_key() {
    let s = peer("server");
    let c = peer("client");
    s.set_option_str(PeerOption::AuthorizedKeys, &c.public_key().unwrap())
        .unwrap();
    let other = peer("other");
    c.set_option_str(PeerOption::AuthorizedKeys, &other.public_key().unwrap())
        .unwrap();
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    let err = c.connect(&ep).await.unwrap_err();
    assert_eq!(err.kind(), streamkit_core::ErrorKind::Auth, "{err}");
    let e = next_of(&c, EventKind::AuthFailed).await;
    assert_eq!(e.endpoint.as_deref(), Some(ep.as_str()));
    assert!(e.reason.as_deref().unwrap().contains("host key"), "{e}");
    let fp = e.fingerprint.unwrap();
    // It is the server's key: the same fingerprint a trusting client sees.
    c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
        .unwrap();
    c.connect(&ep).await.unwrap();
    let ok = next_of(&c, EventKind::Connected).await;
    assert_eq!(ok.fingerprint, Some(fp));
    // The server saw a connection end before HELLO.
    next_of(&s, EventKind::HandshakeFailed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_after_the_server_goes_away() {
    let (s, c, ep) = pair(Transport::Tcp).await;
    c.set_option_int(PeerOption::ReconnectInterval, 20).unwrap();
    next_of(&c, EventKind::Connected).await;
    s.shutdown().await.unwrap();
    next_of(&c, EventKind::Disconnected).await;
    let r = next_of(&c, EventKind::Reconnecting).await;
    assert_eq!(r.endpoint.as_deref(), Some(ep.as_str()));
    assert_eq!(r.attempt, Some(1));
    assert!(r.delay.is_some());
    assert!(
        r.reason.as_deref().unwrap().starts_with("attempt 1 in "),
        "{r}"
    );
    // The port is closed now: every later attempt fails and is announced.
    let r = next_of(&c, EventKind::Reconnecting).await;
    assert_eq!(r.attempt, Some(2));
    assert!(r.reason.as_deref().unwrap().contains("last error"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_by_the_accept_backlog_and_overflow_counted() {
    let (s, c, _ep) = pair(Transport::Tcp).await;
    s.set_option_int(PeerOption::AcceptBacklog, 1).unwrap();
    // Nobody accepts: the first waits in the backlog, the rest are refused.
    let n = streamkit_core::EVENT_QUEUE + 50;
    let mut chans = Vec::new();
    for _ in 0..n {
        chans.push(c.open("server", "x", &[]).await.unwrap());
    }
    let mut refused = 0;
    let mut dropped = 0;
    let mut first: Option<Event> = None;
    within(30, async {
        while refused + dropped < (n - 1) as u64 {
            let e = s.next_event().await.unwrap();
            match e.kind {
                EventKind::Refused => {
                    refused += 1;
                    first.get_or_insert(e);
                }
                EventKind::Overflow => {
                    assert!(e.reason.as_deref().unwrap().contains("dropped"), "{e}");
                    dropped += e.dropped;
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(
        dropped > 0,
        "{n} events into a queue of {}",
        streamkit_core::EVENT_QUEUE
    );
    let f = first.unwrap();
    assert_eq!(f.peer.as_deref(), Some("client"));
    assert!(
        f.reason.as_deref().unwrap().contains("ACCEPT_BACKLOG"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inproc_connects_and_disconnects() {
    let (s, c, _ep) = pair(Transport::Inproc).await;
    assert_eq!(
        next_of(&s, EventKind::Connected).await.peer.as_deref(),
        Some("client")
    );
    next_of(&c, EventKind::Connected).await;
    c.shutdown().await.unwrap();
    next_of(&s, EventKind::Disconnected).await;
    assert!(
        within(30, async {
            while c.next_event().await.is_some() {}
            true
        })
        .await
    );
}
