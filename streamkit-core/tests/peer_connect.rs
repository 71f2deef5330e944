//! Peers: connect, names, trust, reconnect, shutdown, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use std::time::Duration;
use streamkit_core::{ErrorKind, Peer, PeerOption};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_names_and_round_robin() {
    for t in [Transport::Tcp, Transport::Unix] {
        let a = peer("alpha");
        let b = peer("bravo");
        let c = peer("charlie");
        trust_all(&[&a, &b, &c]);
        let ea = a.bind(&endpoint(t)).await.unwrap();
        let eb = b.bind(&endpoint(t)).await.unwrap();
        b.connect(&ea).await.unwrap();
        c.connect(&ea).await.unwrap();
        c.connect(&eb).await.unwrap();
        assert_eq!(c.peers(), vec!["alpha".to_string(), "bravo".to_string()]);
        assert_knows(&a, "bravo");
        assert_knows(&a, "charlie");
        assert_eq!(a.peers(), vec!["bravo".to_string(), "charlie".to_string()]);
        let mut seen = vec![c.next_peer().unwrap(), c.next_peer().unwrap()];
        seen.sort();
        assert_eq!(seen, vec!["alpha".to_string(), "bravo".to_string()]);
        // a channel on the reverse connection: alpha opens to charlie, who connected to it
        let (x, y) = open_pair(&a, &c, "charlie", "rev", &[]).await;
        x.write_frame(b"1").await.unwrap();
        assert_eq!(
            within(5, y.read_frame()).await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        // unknown peer
        let e = a.open("nobody", "x", &[]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoPeer);
        assert!(e.to_string().contains("nobody"), "{e}");
        // drop
        c.drop_peer("bravo").await.unwrap();
        assert_eq!(c.peers(), vec!["alpha".to_string()]);
        assert_eq!(
            c.drop_peer("bravo").await.unwrap_err().kind(),
            ErrorKind::NoPeer
        );
        for p in [&a, &b, &c] {
            p.shutdown().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_client_key_is_refused() {
    let s = peer("server");
    let c = peer("client");
    // client trusts server, server does not trust client
    c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
        .unwrap();
    s.set_option_str(
        PeerOption::AuthorizedKeys,
        &peer("other").public_key().unwrap(),
    )
    .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let e = c.connect(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("refused our key"), "{e}");
    assert!(s.peers().is_empty());
    assert!(c.peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_server_key_is_refused() {
    let s = peer("server");
    let c = peer("client");
    s.set_option_str(PeerOption::AuthorizedKeys, &c.public_key().unwrap())
        .unwrap();
    c.set_option_str(
        PeerOption::AuthorizedKeys,
        &peer("other").public_key().unwrap(),
    )
    .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let e = c.connect(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("not trusted"), "{e}");
    assert!(s.peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_hosts_checked() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let port = ep.rsplit(':').next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    // wrong key for this host: refused even though AUTHORIZED_KEYS trusts it
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{port} {}\n", peer("x").public_key().unwrap()),
    )
    .unwrap();
    c.set_option_str(PeerOption::KnownHosts, kh.to_str().unwrap())
        .unwrap();
    let e = c.connect(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{port} {}\n", s.public_key().unwrap()),
    )
    .unwrap();
    c.connect(&ep).await.unwrap();
    assert_eq!(c.peers(), vec!["server".to_string()]);
}

fn ssh_keygen(dir: &std::path::Path, ty: &str) -> Option<std::path::PathBuf> {
    let f = dir.join(format!("id_{ty}"));
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", ty, "-N", "", "-f"])
        .arg(&f)
        .status()
        .ok()?;
    st.success().then_some(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_written_by_ssh_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_) = ssh_keygen(dir.path(), "ed25519") else {
        panic!("ssh-keygen is required for this test (apt-get install openssh-client)");
    };
    for ty in ["ed25519", "ecdsa", "rsa"] {
        let kf = ssh_keygen(dir.path(), ty).unwrap_or_else(|| dir.path().join(format!("id_{ty}")));
        let s = peer("server");
        let c = Peer::new();
        c.set_option_str(PeerOption::Name, "client").unwrap();
        c.set_option_str(PeerOption::PrivateKey, kf.to_str().unwrap())
            .unwrap();
        let pubf = format!("{}.pub", kf.display());
        let publine = std::fs::read_to_string(&pubf).unwrap();
        assert_eq!(
            c.public_key().unwrap().split(' ').nth(1),
            publine.split(' ').nth(1),
            "{ty}"
        );
        // authorized_keys file as a path, with a comment line and options-free entries
        let ak = dir.path().join(format!("authorized_keys_{ty}"));
        std::fs::write(&ak, format!("# trusted\n{publine}\n")).unwrap();
        s.set_option_str(PeerOption::AuthorizedKeys, ak.to_str().unwrap())
            .unwrap();
        c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
            .unwrap();
        let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
        c.connect(&ep).await.unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_knows(&s, "client");
        // and as the server's host key
        let s2 = Peer::new();
        s2.set_option_str(PeerOption::PrivateKey, kf.to_str().unwrap())
            .unwrap();
        s2.set_option_str(PeerOption::Name, "s2").unwrap();
        s2.set_option_str(PeerOption::AuthorizedKeys, &c.public_key().unwrap())
            .unwrap();
        let ep2 = s2.bind("tcp://127.0.0.1:0").await.unwrap();
        c.connect(&ep2)
            .await
            .unwrap_or_else(|e| panic!("{ty} host key: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_named() {
    let p = peer("p");
    for ep in ["", "tcp://nope", "udp://1.2.3.4:5", "unix://relative"] {
        let e = p.bind(ep).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.to_string().contains(&format!("{ep:?}")), "{e}");
        assert_eq!(p.connect(ep).await.unwrap_err().kind(), ErrorKind::Invalid);
    }
    let e = p
        .set_option_str(PeerOption::PrivateKey, "/no/such/key")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("/no/such/key"));
    assert_eq!(
        p.set_option_int(PeerOption::Name, 3).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        p.set_option_str(PeerOption::ConnectTimeout, "x")
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        p.set_option_int(PeerOption::ReconnectInterval, -2)
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        PeerOption::from_i32(99).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        p.unbind("tcp://127.0.0.1:1").await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // inproc name bound twice
    let name = endpoint(Transport::Inproc);
    p.bind(&name).await.unwrap();
    let q = peer("q");
    let e = q.bind(&name).await.unwrap_err();
    assert!(e.to_string().contains("already bound"), "{e}");
    p.unbind(&name).await.unwrap();
    q.bind(&name).await.unwrap();
}

/// The clock is tokio's paused test clock: it only moves when every task is
/// idle, so the timeout is measured in virtual time, whatever the load.
#[tokio::test(start_paused = true)]
async fn connect_timeout_and_no_retry() {
    let c = peer("c");
    c.set_option_int(PeerOption::ConnectTimeout, 300).unwrap();
    let t0 = tokio::time::Instant::now();
    let e = c.connect("tcp://127.0.0.1:1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let took = t0.elapsed();
    // CONNECT_TIMEOUT, not the 10 s default and not the first refusal
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(10),
        "connect gave up after {took:?} (virtual time)"
    );
    c.set_option_int(PeerOption::ReconnectInterval, -1).unwrap();
    let e = c.connect("tcp://127.0.0.1:1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_file_removed() {
    let s = peer("s");
    let ep = s.bind(&endpoint(Transport::Unix)).await.unwrap();
    let path = ep.strip_prefix("unix://").unwrap().to_string();
    assert!(std::path::Path::new(&path).exists());
    s.unbind(&ep).await.unwrap();
    assert!(!std::path::Path::new(&path).exists());
    let ep = s.bind(&ep).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(!std::path::Path::new(&ep[7..]).exists());
}

/// Binding a unix path replaces only a stale socket: a regular file (or
/// directory) at that path is left alone and bind fails with a clear error;
/// a socket left behind by a dead listener is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_bind_never_removes_a_regular_file() {
    let s = peer("s");
    let ep = endpoint(Transport::Unix);
    let path = std::path::PathBuf::from(ep.strip_prefix("unix://").unwrap());
    std::fs::write(&path, b"precious").unwrap();
    let e = s.bind(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains("is not a socket"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_file(&path).unwrap();
    // A stale socket (its listener gone, the file left) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let bound = s.bind(&ep).await.unwrap();
    s.unbind(&bound).await.unwrap();
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_unblocks_everything() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
        let s2 = s.clone();
        let acc = tokio::spawn(async move { s2.accept().await });
        let b2 = b.clone();
        let rd = tokio::spawn(async move { b2.read_error().await });
        // a writer blocked on credit
        // (the window is filled first, so the write below is known to block)
        let mut queued = 0usize;
        while a.try_write_frame(&[0u8; 1024]).unwrap() {
            queued += 1;
            assert!(queued < 1 << 20, "the window never filled ({t:?})");
        }
        let a2 = a.clone();
        let wr = tokio::spawn(async move {
            let big = vec![0u8; 1 << 20];
            loop {
                a2.write(&big).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), streamkit_core::Error>(())
        });
        s.shutdown().await.unwrap();
        assert_eq!(
            within(60, acc).await.unwrap().unwrap_err().kind(),
            ErrorKind::Closed,
            "{t:?}"
        );
        assert_eq!(
            within(60, rd).await.unwrap().unwrap_err().kind(),
            ErrorKind::Closed,
            "{t:?}"
        );
        // the client's blocked writer fails too once the connection is gone
        assert_eq!(
            within(60, wr).await.unwrap().unwrap_err().kind(),
            ErrorKind::Closed,
            "{t:?}"
        );
        assert_eq!(s.shutdown().await.unwrap_err().kind(), ErrorKind::Closed);
        assert_eq!(s.accept().await.unwrap_err().kind(), ErrorKind::Closed);
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_server_restart() {
    for t in [Transport::Tcp, Transport::Unix, Transport::Inproc] {
        let key = streamkit_core::generate_key();
        let mk_server = || {
            let s = peer("server");
            s.set_option_str(PeerOption::PrivateKey, &key).unwrap();
            s
        };
        let s = mk_server();
        let c = peer("client");
        trust_all(&[&s, &c]);
        let mut ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        let (a, _b) = open_pair(&c, &s, "server", "x", &[]).await;
        s.shutdown().await.unwrap();
        // the channel the shut-down peer had open fails with closed (not a
        // clean end of stream), it does not hang; writing to it fails too
        assert_eq!(
            within(5, a.read_frame()).await.unwrap_err().kind(),
            ErrorKind::Closed,
            "{t:?}"
        );
        assert_eq!(
            a.write(b"x").await.unwrap_err().kind(),
            ErrorKind::Closed,
            "{t:?}"
        );
        let s = mk_server();
        trust_all(&[&s, &c]);
        if t == Transport::Tcp {
            // same port (retried while the old listener lets go; a liveness bound of 60 s)
            for _ in 0..1200 {
                match s.bind(&ep).await {
                    Ok(e) => {
                        ep = e;
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        } else {
            s.bind(&ep).await.unwrap();
        }
        wait_for_peer(&c, "server").await;
        wait_for_peer(&s, "client").await;
        let (x, y) = open_pair(&c, &s, "server", "again", &[]).await;
        x.write_frame(b"back").await.unwrap();
        assert_eq!(
            within(5, y.read_frame()).await.unwrap().as_deref(),
            Some(&b"back"[..]),
            "{t:?}"
        );
        c.shutdown().await.unwrap();
        s.shutdown().await.unwrap();
    }
}

/// `connect` returns only once both sides know each other's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_returns_when_both_sides_know_names() {
    for t in ALL {
        let s = peer("server");
        let ep = s.bind(&endpoint(t)).await.unwrap();
        for i in 0..100 {
            let c = peer(&format!("client{i}"));
            trust_all(&[&s, &c]);
            c.connect(&ep).await.unwrap();
            assert!(
                s.peers().contains(&format!("client{i}")),
                "{t:?}: server does not know client{i} yet"
            );
            let ch = s.open(&format!("client{i}"), "back", &[]).await.unwrap();
            ch.write_frame(b"x").await.unwrap();
            let got = within(5, c.accept()).await.unwrap();
            assert_eq!(
                within(5, got.read_frame()).await.unwrap().as_deref(),
                Some(&b"x"[..])
            );
            c.shutdown().await.unwrap();
        }
        s.shutdown().await.unwrap();
    }
}

/// A program that writes, closes, shuts its peer down and exits at once must
/// not lose what it wrote: shutdown flushes. "Exits" = its runtime is dropped.
#[test]
fn shutdown_flushes_before_returning() {
    let srv_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let key = streamkit_core::generate_key();
    let s = peer("server");
    s.set_option_str(PeerOption::PrivateKey, &key).unwrap();
    let ep = srv_rt.block_on(s.bind("tcp://127.0.0.1:0")).unwrap();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    for round in 0..10 {
        // the server reads concurrently (the payload is larger than the window)
        let s2 = s.clone();
        let want = payload.len();
        let reader = srv_rt.spawn(async move {
            let ch = within(10, s2.accept()).await.unwrap();
            assert_eq!(
                within(10, ch.read_frame()).await.unwrap().unwrap().len(),
                want,
                "round {round}"
            );
            assert_eq!(
                within(10, ch.read_frame()).await.unwrap().as_deref(),
                Some(&b"last"[..]),
                "round {round}"
            );
            assert_eq!(
                within(10, ch.read_frame()).await.unwrap(),
                None,
                "round {round}"
            );
        });
        let cli_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let c = peer(&format!("client{round}"));
        c.set_option_str(PeerOption::PrivateKey, &key).unwrap();
        let p2 = payload.clone();
        cli_rt.block_on(async {
            within(20, async {
                c.connect(&ep).await.unwrap();
                let ch = c.open("server", "bye", &[]).await.unwrap();
                ch.write_frame(&p2).await.unwrap();
                ch.write_frame(b"last").await.unwrap();
                ch.close().await.unwrap();
                c.shutdown().await.unwrap();
            })
            .await
        });
        drop(cli_rt); // the "process" exits: all its tasks are gone
        srv_rt.block_on(reader).unwrap();
    }
}

/// A peer that half-closes a channel (everything it meant to send is sent)
/// and then shuts down: the remote reads the data and a clean end of stream.
/// Without the half-close the same shutdown is a closed error after the data
/// (a cut-off transfer must not look complete).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_after_close_write_is_a_clean_end_of_stream() {
    for t in ALL {
        for half_close in [true, false] {
            let (s, c, _) = pair(t).await;
            let (a, b) = open_pair(&c, &s, "server", "oneshot", &[]).await;
            a.write_frame(b"all of it").await.unwrap();
            if half_close {
                a.close_write().await.unwrap();
            }
            within(10, c.shutdown()).await.unwrap();
            assert_eq!(
                within(10, b.read_frame()).await.unwrap().as_deref(),
                Some(&b"all of it"[..]),
                "{t:?}"
            );
            let end = within(10, b.read_frame()).await;
            if half_close {
                assert_eq!(
                    end.unwrap(),
                    None,
                    "{t:?}: a half-closed channel must end cleanly"
                );
            } else {
                let e = end.unwrap_err();
                assert!(e.to_string().contains("shut down"), "{t:?}: {e}");
            }
            s.shutdown().await.unwrap();
        }
    }
}

/// A bound peer keeps its parsed AUTHORIZED_KEYS file between sockets, but
/// every change to the file (another key, the same length rewritten in
/// place, removal) counts for the next connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_keys_file_changes_count_for_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ak = dir.path().join("authorized_keys");
    let s = peer("server");
    let good = peer("good");
    let other = peer("other");
    for c in [&good, &other] {
        c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
            .unwrap();
        c.set_option_int(PeerOption::ReconnectInterval, -1).unwrap();
    }
    // Two keys of one type have equally long lines: swapping them keeps
    // the file's length.
    let line = |p: &Peer| format!("{}\n", p.public_key().unwrap());
    assert_eq!(line(&good).len(), line(&other).len());
    std::fs::write(&ak, line(&other)).unwrap();
    s.set_option_str(PeerOption::AuthorizedKeys, ak.to_str().unwrap())
        .unwrap();
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    let e = good.connect(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    // the same length, rewritten in place: now `good` is trusted
    std::fs::write(&ak, line(&good)).unwrap();
    good.connect(&ep).await.unwrap();
    good.disconnect(&ep).await.unwrap();
    let e = other.connect(&ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    // the file removed: new connections fail (closed), nobody is admitted
    std::fs::remove_file(&ak).unwrap();
    good.connect(&ep).await.unwrap_err();
    s.shutdown().await.unwrap();
}
