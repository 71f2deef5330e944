#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! Any byte stream as a connection: `Peer::connect_stream` / `serve_stream`
//! over a socketpair and over an in-memory duplex pipe, with the same trust
//! and channel semantics as tcp://, and no reconnect once the stream is gone.

mod support;

use streamkit_core::{ErrorKind, EventKind, PeerOption};
use support::*;

async fn echo_once(from: &streamkit_core::Peer, to: &streamkit_core::Peer, to_name: &str) {
    let (a, b) = open_pair(from, to, to_name, "echo", &["k=v".to_string()]).await;
    assert_eq!(b.meta().service, "echo");
    assert_eq!(b.meta().headers, ["k=v"]);
    a.write_frame(b"over a stream").await.unwrap();
    let f = within(30, b.read_frame()).await.unwrap().unwrap();
    b.write_frame(&f).await.unwrap();
    assert_eq!(
        within(30, a.read_frame()).await.unwrap().as_deref(),
        Some(&b"over a stream"[..])
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socketpair_carries_a_full_connection() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    let (served, connected) = tokio::join!(s.serve_stream(x), c.connect_stream(y));
    assert_eq!(served.unwrap(), "client");
    assert_eq!(connected.unwrap(), "server");
    assert_knows(&s, "client");
    assert_knows(&c, "server");
    echo_once(&c, &s, "server").await;
    echo_once(&s, &c, "client").await;
    // The identity is the key that authenticated.
    let (a, b) = open_pair(&c, &s, "server", "who", &[]).await;
    assert_eq!(b.meta().remote_key(), c.public_key().unwrap());
    assert_eq!(a.meta().remote_key(), s.public_key().unwrap());
    let st = c.stats();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].endpoint, "stream");
    assert_eq!(s.stats()[0].endpoint, "stream");
    drop((a, b));

    // Lost: no reconnect (a stream cannot be reopened), the peer is gone.
    s.drop_peer("client").await.unwrap();
    eventually("the client forgot the server", || c.peers().is_empty()).await;
    let mut saw = false;
    while let Ok(Some(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(300), c.next_event()).await
    {
        assert_ne!(ev.kind, EventKind::Reconnecting, "{ev}");
        saw |= ev.kind == EventKind::Disconnected;
    }
    assert!(saw, "a disconnected event");
    assert!(s.peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_async_stream_works_not_only_sockets() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let (x, y) = tokio::io::duplex(64 * 1024);
    let (served, connected) = tokio::join!(s.serve_stream(x), c.connect_stream(y));
    assert_eq!(
        (served.unwrap(), connected.unwrap()),
        ("client".into(), "server".into())
    );
    // Bulk through the small in-memory pipe: flow control holds.
    let (a, b) = open_pair(&c, &s, "server", "bulk", &[]).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let w = {
        let a = a.clone();
        let d = data.clone();
        tokio::spawn(async move {
            a.write(&d).await.unwrap();
            a.close_write().await.unwrap();
        })
    };
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = within(60, b.read(&mut buf)).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    w.await.unwrap();
    assert!(got == data, "{} bytes of {}", got.len(), data.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_is_checked_both_ways() {
    // The server does not trust the client.
    let s = peer("server");
    let c = peer("client");
    s.set_option_str(PeerOption::AuthorizedKeys, "").unwrap();
    c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
        .unwrap();
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    let (served, connected) = tokio::join!(s.serve_stream(x), c.connect_stream(y));
    assert_eq!(connected.unwrap_err().kind(), ErrorKind::Auth);
    let e = served.unwrap_err();
    assert!(
        e.to_string().contains("did not complete the handshake"),
        "{e}"
    );
    assert!(s.peers().is_empty() && c.peers().is_empty());

    // The client does not trust the server.
    let s = peer("server");
    let c = peer("client");
    s.set_option_str(PeerOption::AuthorizedKeys, &c.public_key().unwrap())
        .unwrap();
    c.set_option_str(PeerOption::AuthorizedKeys, "").unwrap();
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    let (served, connected) = tokio::join!(s.serve_stream(x), c.connect_stream(y));
    let e = connected.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("stream"), "{e}");
    assert!(served.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_hosts_is_checked_for_the_named_endpoint() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let key = s.public_key().unwrap();
    c.set_option_str(
        PeerOption::KnownHosts,
        &format!("[proxied.example]:2222 {key}\n"),
    )
    .unwrap();
    // Right host: trusted.
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    let (served, connected) = tokio::join!(
        s.serve_stream(x),
        c.connect_stream_to(y, "tcp://proxied.example:2222")
    );
    assert_eq!(connected.unwrap(), "server");
    assert_eq!(served.unwrap(), "client");
    assert_eq!(
        c.stats()[0].endpoint,
        "tcp://proxied.example:2222 (through a stream)"
    );
    s.drop_peer("client").await.unwrap();
    eventually("disconnected", || c.peers().is_empty()).await;
    // Another host: refused, naming it.
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    let (_, connected) = tokio::join!(
        s.serve_stream(x),
        c.connect_stream_to(y, "tcp://other.example:2222")
    );
    let e = connected.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("other.example"), "{e}");
    // inproc:// cannot be the far end of a stream.
    let (_x, y) = tokio::net::UnixStream::pair().unwrap();
    let e = c.connect_stream_to(y, "inproc://x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_times_out_on_both_sides() {
    let s = peer("server");
    s.set_option_int(PeerOption::HandshakeTimeout, 300).unwrap();
    let (x, _keep) = tokio::net::UnixStream::pair().unwrap();
    let e = within(30, s.serve_stream(x)).await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Closed),
        "{e}"
    );
    assert!(e.to_string().contains("handshake"), "{e}");
    let c = peer("client");
    c.set_option_int(PeerOption::HandshakeTimeout, 300).unwrap();
    let (y, _keep2) = tokio::net::UnixStream::pair().unwrap();
    let e = within(30, c.connect_stream(y)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_via_dials_again_to_reconnect() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    c.set_option_int(PeerOption::ReconnectInterval, 20).unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let addr = ep.strip_prefix("tcp://").unwrap().to_string();
    let dials = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d2 = dials.clone();
    // The "proxy" dials the real address; the endpoint named is another.
    c.connect_via("tcp://behind.proxy:7000", move || {
        d2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let a = addr.clone();
        async move { tokio::net::TcpStream::connect(a).await }
    })
    .await
    .unwrap();
    assert_knows(&c, "server");
    assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        c.stats()[0].endpoint,
        "tcp://behind.proxy:7000 (through a stream)"
    );
    echo_once(&c, &s, "server").await;
    // Dropped by the server: the client dials again and is back.
    s.drop_peer("client").await.unwrap();
    eventually("a second dial", || {
        dials.load(std::sync::atomic::Ordering::SeqCst) >= 2
    })
    .await;
    wait_for_peer(&c, "server").await;
    echo_once(&c, &s, "server").await;
    // disconnect(endpoint) ends it for good.
    c.disconnect("tcp://behind.proxy:7000").await.unwrap();
    eventually("disconnected", || c.peers().is_empty()).await;

    // A dial that fails is retried until CONNECT_TIMEOUT, and the error says why.
    let c2 = peer("client2");
    c2.set_option_int(PeerOption::ConnectTimeout, 300).unwrap();
    let e = c2
        .connect_via("tcp://nowhere:1", || async {
            Err::<tokio::net::TcpStream, _>(std::io::Error::other("proxy exited"))
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("proxy exited"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_buffer_writes_are_flushed() {
    // A BufWriter holds small writes until flushed (as stdout does): the
    // handshake and every small frame must still go out at once.
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let (x, y) = tokio::io::duplex(64 * 1024);
    let (x, y) = (tokio::io::BufWriter::new(x), tokio::io::BufWriter::new(y));
    let (served, connected) = within(30, async {
        tokio::join!(s.serve_stream(x), c.connect_stream(y))
    })
    .await;
    assert_eq!(
        (served.unwrap(), connected.unwrap()),
        ("client".into(), "server".into())
    );
    for _ in 0..3 {
        echo_once(&c, &s, "server").await;
    }
}
