#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! Names are bound to keys: no hijacking a connected name or a peer's own
//! name; streamkit-names= and streamkit-services= on authorized_keys lines.

mod support;

use streamkit_core::{ErrorKind, Peer, PeerOption};
use support::{endpoint, open_pair, peer, within, Transport};

const SOCKETS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

fn trust(p: &Peer, text: &str) {
    p.set_option_str(PeerOption::AuthorizedKeys, text).unwrap();
}

/// One byte each way over a fresh channel from `from` to `to`.
async fn roundtrip(from: &Peer, to: &Peer, to_name: &str, service: &str) -> String {
    let (a, b) = open_pair(from, to, to_name, service, &[]).await;
    a.write_frame(b"ping").await.unwrap();
    assert_eq!(
        within(10, b.read_frame()).await.unwrap().unwrap().as_ref(),
        b"ping"
    );
    b.write_frame(b"pong").await.unwrap();
    assert_eq!(
        within(10, a.read_frame()).await.unwrap().unwrap().as_ref(),
        b"pong"
    );
    b.remote_peer().to_string()
}

/// Wait until `p` lists no peer (a liveness bound only).
async fn wait_until_no_peers(p: &Peer) {
    for _ in 0..6000 {
        if p.peers().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{} still lists {:?}", p.name(), p.peers());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_key_cannot_take_a_connected_name() {
    for t in SOCKETS {
        let s = peer("server");
        let a = peer("alpha");
        let b = peer("alpha"); // another key, the same name
        let keys = [&s, &a, &b].map(|p| p.public_key().unwrap()).join("\n");
        for p in [&s, &a, &b] {
            trust(p, &keys);
        }
        let ep = s.bind(&endpoint(t)).await.unwrap();
        a.connect(&ep).await.unwrap();
        let e = within(30, b.connect(&ep)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{t:?}: {e}");
        assert!(e.to_string().contains("our name \"alpha\""), "{e}");
        assert_eq!(s.peers(), vec!["alpha".to_string()]);
        // Channels for "alpha" still reach the first key's holder.
        let (ch, got) = open_pair(&s, &a, "alpha", "svc", &[]).await;
        assert_eq!(got.local_peer(), "alpha");
        drop((ch, got));
        // Once the first key's holder is gone, the name is free again.
        a.disconnect(&ep).await.unwrap();
        wait_until_no_peers(&s).await;
        b.connect(&ep).await.unwrap();
        assert_eq!(roundtrip(&b, &s, "server", "svc").await, "alpha");
        for p in [&s, &a, &b] {
            p.shutdown().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_cannot_claim_the_peers_own_name() {
    for t in SOCKETS {
        let s = peer("hub");
        let c = peer("hub");
        support::trust_all(&[&s, &c]);
        let ep = s.bind(&endpoint(t)).await.unwrap();
        let e = within(30, c.connect(&ep)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{t:?}: {e}");
        assert!(s.peers().is_empty() && c.peers().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_refuses_a_server_taking_a_connected_name() {
    for t in SOCKETS {
        let s1 = peer("hub");
        let s2 = peer("hub");
        let c = peer("client");
        support::trust_all(&[&s1, &s2, &c]);
        let ep1 = s1.bind(&endpoint(t)).await.unwrap();
        let ep2 = s2.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep1).await.unwrap();
        let e = within(30, c.connect(&ep2)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{t:?}: {e}");
        assert!(
            e.to_string().contains("already connected with another key"),
            "{e}"
        );
        assert_eq!(c.peers(), vec!["hub".to_string()]);
        assert_eq!(roundtrip(&c, &s1, "hub", "svc").await, "client");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamkit_names_binds_a_key_to_names() {
    for t in SOCKETS {
        let s = peer("server");
        for (name, ok) in [("deploy", true), ("ci", true), ("other", false)] {
            let c = peer(name);
            trust(
                &s,
                &format!(
                    "restrict,streamkit-names=\"deploy,ci\" {}\n",
                    c.public_key().unwrap()
                ),
            );
            trust(&c, &s.public_key().unwrap());
            let ep = s.bind(&endpoint(t)).await.unwrap();
            let r = within(30, c.connect(&ep)).await;
            assert_eq!(r.is_ok(), ok, "{t:?} {name}: {r:?}");
            if let Err(e) = r {
                assert_eq!(e.kind(), ErrorKind::Auth);
            }
            s.unbind(&ep).await.unwrap();
            c.shutdown().await.unwrap();
        }
        // And on the client side, for the server's name.
        for (name, ok) in [("hub", true), ("rogue", false)] {
            let s = peer(name);
            let c = peer("client");
            trust(&s, &c.public_key().unwrap());
            trust(
                &c,
                &format!("streamkit-names=\"hub\" {}\n", s.public_key().unwrap()),
            );
            let ep = s.bind(&endpoint(t)).await.unwrap();
            let r = within(30, c.connect(&ep)).await;
            assert_eq!(r.is_ok(), ok, "{t:?} {name}: {r:?}");
            if let Err(e) = r {
                assert_eq!(e.kind(), ErrorKind::Auth);
                assert!(e.to_string().contains("streamkit-names"), "{e}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_key_restricted_to_one_service_cannot_open_another() {
    for t in SOCKETS {
        let s = peer("server");
        let c = peer("deploy");
        trust(
            &s,
            &format!(
                "restrict,streamkit-services=\"echo\" {}\n",
                c.public_key().unwrap()
            ),
        );
        trust(&c, &s.public_key().unwrap());
        let ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        assert_eq!(roundtrip(&c, &s, "server", "echo").await, "deploy");
        for svc in ["db", "sh", "echo2", "ECHO"] {
            let ch = c.open("server", svc, &[]).await.unwrap();
            let e = within(10, ch.read_frame()).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Closed, "{svc}: {e}");
            assert!(e.to_string().contains("streamkit-services"), "{svc}: {e}");
        }
        // The refused channels were never delivered: the next accept is echo.
        let (_a, b) = open_pair(&c, &s, "server", "echo", &[]).await;
        assert_eq!(b.service(), "echo");
        // The server's own opens to the client are not restricted by it.
        assert_eq!(roundtrip(&s, &c, "deploy", "db").await, "server");
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
