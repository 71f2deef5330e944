//! MAX_CONNECTIONS_PER_KEY: a bound peer refuses a key's connection past
//! the limit, says why on both sides, and admits it again once one ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::{EventKind, Peer, PeerOption};
use support::*;

fn keyed(name: &str, key: &str, trust: &str) -> Peer {
    let p = Peer::new();
    p.set_option_str(PeerOption::Name, name).unwrap();
    p.set_option_str(PeerOption::PrivateKey, key).unwrap();
    p.set_option_str(PeerOption::AuthorizedKeys, trust).unwrap();
    p.set_option_int(PeerOption::ReconnectInterval, -1).unwrap();
    p.set_option_int(PeerOption::ConnectTimeout, 5000).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_holds_at_most_the_limit() {
    let s = peer("server");
    assert_eq!(
        s.get_option_int(PeerOption::MaxConnectionsPerKey).unwrap(),
        0
    );
    s.set_option_int(PeerOption::MaxConnectionsPerKey, 2)
        .unwrap();
    assert!(s
        .set_option_int(PeerOption::MaxConnectionsPerKey, -1)
        .is_err());
    let shared = streamkit_core::generate_key();
    let other = streamkit_core::generate_key();
    let spub = s.public_key().unwrap();
    let c: Vec<Peer> = (0..3)
        .map(|i| keyed(&format!("c{i}"), &shared, &spub))
        .collect();
    let d = keyed("d", &other, &spub);
    let trusted = format!(
        "{}\n{}\n",
        c[0].public_key().unwrap(),
        d.public_key().unwrap()
    );
    s.set_option_str(PeerOption::AuthorizedKeys, &trusted)
        .unwrap();
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    c[0].connect(&ep).await.unwrap();
    c[1].connect(&ep).await.unwrap();
    let e = c[2].connect(&ep).await.unwrap_err();
    assert!(e.to_string().contains("MAX_CONNECTIONS_PER_KEY = 2"), "{e}");
    // the server says so in a `refused` event with the key's fingerprint
    let ev = within(30, async {
        loop {
            let ev = s.next_event().await.expect("events ended");
            if ev.kind == EventKind::Refused {
                return ev;
            }
        }
    })
    .await;
    assert!(
        ev.reason
            .as_deref()
            .unwrap()
            .contains("MAX_CONNECTIONS_PER_KEY"),
        "{ev}"
    );
    assert_eq!(ev.peer.as_deref(), Some("c2"));
    assert!(
        ev.fingerprint.as_deref().unwrap().starts_with("SHA256:"),
        "{ev}"
    );
    // another key is not affected
    d.connect(&ep).await.unwrap();
    let mut names = s.peers();
    names.sort();
    assert_eq!(names, ["c0", "c1", "d"]);
    // one of the key's connections ends: there is room again
    c[0].shutdown().await.unwrap();
    eventually("the server forgot c0", || {
        !s.peers().iter().any(|n| n == "c0")
    })
    .await;
    c[2].connect(&ep).await.unwrap();
    assert!(s.peers().iter().any(|n| n == "c2"));
    for p in c.iter().chain([&d]) {
        let _ = p.shutdown().await;
    }
    s.shutdown().await.unwrap();
}
