//! Hostile or broken input. Throughout, the bound peer must keep serving its
//! honest clients.
//!
//! Before authentication: silent TCP clients, clients that send a banner and
//! stall (1,000 at once), garbage instead of a banner, untrusted client keys,
//! untrusted or changed server host keys.
//! After authentication (a raw russh client that speaks HELLO and then
//! misbehaves): malformed/truncated OPENs, huge declared lengths and counts,
//! a 4 GiB frame length prefix, and 100,000 OPENs that are never read.

// Tests in a file hold SERIAL (a std Mutex) across awaits on purpose: each
// test has its own runtime, the lock only makes them run one at a time.
#![allow(clippy::await_holding_lock)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use bytes::Bytes;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use streamkit_core::proto::{close_code, ty, Ctl, VERSION};
use streamkit_core::{ErrorKind, Peer, PeerOption};
use streamkit_reliability::rawssh::{self, Raw};
use streamkit_reliability::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static SERIAL: Mutex<()> = Mutex::new(());
const EXE: &str = env!("CARGO_BIN_EXE_sk-rel-peer");

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn addr_of(ep: &str) -> String {
    ep.trim_start_matches("tcp://").to_string()
}

/// An in-process bound server with an echo service, plus an honest client.
async fn server_and_honest(handshake_ms: i64) -> (Peer, Peer, String) {
    let s = peer("server");
    let c = peer("honest");
    trust_all(&[&s, &c], &[]);
    s.set_option_int(PeerOption::HandshakeTimeout, handshake_ms)
        .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_echo_server(&s);
    c.connect(&ep).await.unwrap();
    echo_roundtrip(&c, "server").await.unwrap();
    (s, c, ep)
}

/// Read from `s` until the server closes it; returns how long that took
/// (None if it was still open at `limit`).
async fn time_to_close(
    mut s: tokio::net::TcpStream,
    t0: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut buf = vec![0u8; 4096];
    loop {
        let left = limit.checked_sub(t0.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t0.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// 1,000 TCP clients at once, half sending nothing and half an SSH banner
/// and then stalling, do not stop honest clients from connecting and working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_stalled_handshakes_do_not_block_honest_clients() {
    let _g = serial();
    raise_nofile(16_384);
    let (s, c, ep) = server_and_honest(1000).await;
    let addr = addr_of(&ep);
    let mut socks = Vec::new();
    for i in 0..1000 {
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            sock.write_all(b"SSH-2.0-stall_test\r\n").await.unwrap();
        }
        socks.push(sock);
    }
    for k in 0..3 {
        let newcomer = peer(&format!("newcomer{k}"));
        trust_all(&[&s, &newcomer], &[c.public_key().unwrap()]);
        let t1 = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), newcomer.connect(&ep))
            .await
            .expect("an honest client could not connect within 5 s while 1,000 handshakes stalled")
            .unwrap();
        echo_roundtrip(&newcomer, "server").await.unwrap();
        eprintln!(
            "honest client {k} connected and echoed in {:?}",
            t1.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    echo_roundtrip(&c, "server").await.unwrap();
    drop(socks);
}

/// 1,000 TCP clients at once, half sending nothing and half sending an SSH
/// banner and stalling: every one is dropped after HANDSHAKE_TIMEOUT, an
/// honest client connects and works meanwhile, and the server's file
/// descriptors return to where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_dropped_after_timeout_honest_clients_served() {
    let _g = serial();
    raise_nofile(16_384);
    let timeout_ms = 1000;
    let (s, _c, ep) = server_and_honest(timeout_ms).await;
    let addr = addr_of(&ep);
    let fds0 = fds("self");
    let n = 1000;
    let t0 = Instant::now();
    let mut socks = Vec::new();
    for i in 0..n {
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            sock.write_all(b"SSH-2.0-stall_test\r\n").await.unwrap();
        }
        socks.push(sock);
    }
    eprintln!("{n} stalled connections opened in {:?}", t0.elapsed());
    // honest newcomers connect while they are all pending
    let newcomer = peer("newcomer");
    trust_all(&[&s, &newcomer], &[_c.public_key().unwrap()]);
    let t1 = Instant::now();
    newcomer
        .connect(&ep)
        .await
        .expect("an honest client could not connect while 1,000 handshakes stalled");
    echo_roundtrip(&newcomer, "server").await.unwrap();
    eprintln!("honest client connected and echoed in {:?}", t1.elapsed());
    let limit = Duration::from_millis(timeout_ms as u64 + 3000);
    let mut tasks = Vec::new();
    for (i, sock) in socks.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            (i, time_to_close(sock, t0, limit).await)
        }));
    }
    let mut still_open = Vec::new();
    let mut worst = Duration::ZERO;
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match r {
            Some(d) => worst = worst.max(d),
            None => still_open.push(i),
        }
    }
    eprintln!(
        "dropped: {} of {n}, slowest after {worst:?}; still open: {}",
        n - still_open.len(),
        still_open.len()
    );
    let silent = still_open.iter().filter(|i| *i % 2 == 0).count();
    assert!(
        still_open.is_empty(),
        "{} stalled connections were not dropped within HANDSHAKE_TIMEOUT ({timeout_ms} ms) + 3 s: {silent} silent, {} that sent a banner",
        still_open.len(),
        still_open.len() - silent
    );
    echo_roundtrip(&_c, "server").await.unwrap();
    // server-side sockets released
    let fds_ok = {
        let t = Instant::now();
        loop {
            let now = fds("self");
            if now <= fds0 + 10 || t.elapsed() > Duration::from_secs(5) {
                break now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(
        fds_ok <= fds0 + 10,
        "file descriptors: {fds0} before, {fds_ok} after the stalled clients were dropped"
    );
}

/// Garbage instead of an SSH banner (an HTTP request, then random bytes):
/// the connection is dropped promptly and honest clients are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_banner_is_dropped() {
    let _g = serial();
    let (_s, c, ep) = server_and_honest(2000).await;
    let addr = addr_of(&ep);
    let mut rng: u64 = 0x9e3779b97f4a7c15;
    let mut garbage = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n".to_vec();
    for _ in 0..64 * 1024 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        garbage.push(rng as u8);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("http request + random bytes", garbage.clone()),
        (
            "random bytes without newline",
            garbage[40..]
                .iter()
                .copied()
                .filter(|b| *b != b'\n')
                .collect(),
        ),
        ("a bad SSH version", b"SSH-1.5-old\r\n".to_vec()),
        (
            "a valid banner then garbage packets",
            [&b"SSH-2.0-x\r\n"[..], &[0xffu8; 4096][..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        let t0 = Instant::now();
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = sock.write_all(&bytes).await;
        let d = time_to_close(sock, t0, Duration::from_secs(5)).await;
        eprintln!("{what}: dropped after {d:?}");
        let d = d.unwrap_or_else(|| panic!("{what}: connection not dropped within 5 s"));
        assert!(
            d < Duration::from_millis(2500),
            "{what}: dropped only after {d:?}"
        );
        echo_roundtrip(&c, "server").await.unwrap();
    }
}

/// A valid SSH client whose key the server does not trust: refused with an
/// auth error (not retried until CONNECT_TIMEOUT), never listed in peers().
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_client_key_refused_with_auth_error() {
    let _g = serial();
    let (s, c, ep) = server_and_honest(2000).await;
    let stranger = peer("stranger");
    stranger
        .set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
        .unwrap();
    let t0 = Instant::now();
    let e = stranger
        .connect(&ep)
        .await
        .expect_err("untrusted client got in");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "refusal took {:?}",
        t0.elapsed()
    );
    assert!(!s.peers().contains(&"stranger".to_string()));
    // a raw SSH client with an untrusted key, claiming a trusted peer's name
    let r = rawssh::connect(&addr_of(&ep), "honest", &streamkit_core::generate_key()).await;
    assert!(
        matches!(&r, Err(m) if m.contains("refused")),
        "raw client with untrusted key: {:?}",
        r.as_ref().err()
    );
    echo_roundtrip(&c, "server").await.unwrap();
}

/// A server whose host key the client does not trust, or whose key differs
/// from the client's KNOWN_HOSTS entry: refused with an auth error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_or_changed_host_key_refused_with_auth_error() {
    let _g = serial();
    let (s, c, ep) = server_and_honest(2000).await;
    let port = ep.rsplit(':').next().unwrap().to_string();
    // the client trusts only some other key
    let wary = peer("wary");
    s.set_option_str(
        PeerOption::AuthorizedKeys,
        &format!(
            "{}\n{}\n",
            c.public_key().unwrap(),
            wary.public_key().unwrap()
        ),
    )
    .unwrap();
    wary.set_option_str(
        PeerOption::AuthorizedKeys,
        &public_of(&streamkit_core::generate_key()),
    )
    .unwrap();
    let e = wary
        .connect(&ep)
        .await
        .expect_err("client accepted an untrusted server");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    // known_hosts with a different key for this host:port (file and text forms)
    let other = public_of(&streamkit_core::generate_key());
    let line = format!("[127.0.0.1]:{port} {other}\n");
    let dir = scratch_dir();
    let kh = dir.join("known_hosts");
    std::fs::write(&kh, &line).unwrap();
    for (form, v) in [("file", kh.display().to_string()), ("text", line.clone())] {
        let p = peer("kh-client");
        p.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
            .unwrap();
        p.set_option_str(PeerOption::KnownHosts, &v).unwrap();
        s.set_option_str(
            PeerOption::AuthorizedKeys,
            &format!("{}\n{}\n", c.public_key().unwrap(), p.public_key().unwrap()),
        )
        .unwrap();
        let t0 = Instant::now();
        let e = p
            .connect(&ep)
            .await
            .expect_err("client accepted a changed host key");
        assert_eq!(e.kind(), ErrorKind::Auth, "known_hosts {form}: {e}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "refusal took {:?}",
            t0.elapsed()
        );
        // control: the right key in known_hosts is accepted
        let good = format!("[127.0.0.1]:{port} {}\n", s.public_key().unwrap());
        let p2 = peer("kh-client2");
        p2.set_option_str(PeerOption::KnownHosts, &good).unwrap();
        s.set_option_str(
            PeerOption::AuthorizedKeys,
            &format!(
                "{}\n{}\n",
                c.public_key().unwrap(),
                p2.public_key().unwrap()
            ),
        )
        .unwrap();
        p2.connect(&ep)
            .await
            .unwrap_or_else(|e| panic!("correct known_hosts entry refused: {e}"));
    }
    echo_roundtrip(&c, "server").await.unwrap();
}

// ---------------------------------------------------------------------------
// After authentication

struct Hostile {
    server: PeerProc,
    honest: Peer,
    ep: String,
    ids: Identities,
}

async fn hostile_setup(extra: &[String]) -> Hostile {
    let ids = Identities::new(&["server", "honest", "mallory"]);
    let (server, ep) = spawn_bound(EXE, &ids, "server", "tcp://127.0.0.1:0", extra);
    let honest = ids.peer("honest");
    honest.connect(&ep).await.unwrap();
    echo_roundtrip(&honest, "server").await.unwrap();
    Hostile {
        server,
        honest,
        ep,
        ids,
    }
}

async fn mallory(h: &Hostile) -> Raw {
    let mut raw = rawssh::connect(&addr_of(&h.ep), "mallory", h.ids.key("mallory"))
        .await
        .unwrap();
    raw.hello("mallory", 256 * 1024).await.unwrap();
    raw
}

/// A valid OPEN for "echo" on a fresh SSH channel: one frame round trip.
async fn raw_echo_works(raw: &mut Raw, id: u64) -> bool {
    let w = raw_open(raw, id, "echo").await;
    let ch = w.id();
    w.data_bytes(Bytes::from_static(b"\x00\x00\x00\x04pong"))
        .await
        .unwrap();
    let ok = raw
        .wait_for(Duration::from_secs(5), |r| {
            r.data.get(&ch).is_some_and(|d| d.len() >= 8)
        })
        .await;
    let _ = w.close().await;
    ok && raw
        .data
        .get(&ch)
        .is_some_and(|d| &d[..] == b"\x00\x00\x00\x04pong")
}

/// Opens `service` with a valid OPEN and returns the SSH channel.
async fn raw_open(
    raw: &Raw,
    id: u64,
    service: &str,
) -> russh::ChannelWriteHalf<russh::client::Msg> {
    let w = raw.open_ssh().await.unwrap_or_else(|e| panic!("{e}"));
    w.extended_data_bytes(2, rawssh::open_msg(id, service))
        .await
        .unwrap();
    w
}

fn open_body(id: u64, service: &[u8], count: u32, extra: &[u8]) -> Vec<u8> {
    let mut b = vec![ty::OPEN, VERSION];
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&(service.len() as u32).to_be_bytes());
    b.extend_from_slice(service);
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(extra);
    b
}

/// Malformed, truncated and oversized OPEN messages from an authenticated
/// peer: each closes (or refuses) only its own SSH channel; the hostile
/// connection, the honest client and the server keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_opens_refused_one_by_one() {
    let _g = serial();
    let mut h = hostile_setup(&[]).await;
    let (rss0, _, _) = h.server.stats();
    let mut raw = mallory(&h).await;
    let honest_ch = h.honest.open("server", "echo", &[]).await.unwrap();
    let good = Ctl::Open {
        version: VERSION,
        id: 1001,
        parent: 0,
        service: "echo".into(),
        headers: vec!["k=v".into()],
    }
    .encode();
    let mut huge_len_service = open_body(3, b"", 0, b"");
    // service string declaring 4 GiB - 16 bytes
    huge_len_service.truncate(2 + 16);
    huge_len_service.extend_from_slice(&0xffff_fff0u32.to_be_bytes());
    huge_len_service.extend_from_slice(b"echo");
    let cases: Vec<(&str, Bytes, Option<u32>)> = vec![
        (
            "OPEN truncated inside a correct length prefix",
            rawssh::framed(&good[4..good.len() - 3]),
            None,
        ),
        (
            "OPEN with 4,294,967,295 declared headers",
            rawssh::framed(&open_body(5, b"echo", u32::MAX, b"")),
            None,
        ),
        (
            "OPEN with 4,097 declared headers (over MAX_LIST_ITEMS)",
            rawssh::framed(&open_body(7, b"echo", 4097, &[0u8; 4097 * 4])),
            None,
        ),
        (
            "OPEN whose service declares 4 GiB",
            rawssh::framed(&huge_len_service),
            None,
        ),
        (
            "control length prefix of 4 GiB",
            Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, ty::OPEN]),
            None,
        ),
        (
            "control length prefix of 1 MiB + 1",
            {
                let mut v = ((1u32 << 20) + 1).to_be_bytes().to_vec();
                v.extend_from_slice(&[ty::OPEN; 64]);
                Bytes::from(v)
            },
            None,
        ),
        (
            "OPEN with a non-UTF-8 service",
            rawssh::framed(&open_body(9, &[0xff, 0xfe, 0xfd], 0, b"")),
            None,
        ),
        (
            "OPEN with trailing bytes",
            rawssh::framed(&open_body(11, b"echo", 0, b"xyz")),
            None,
        ),
        (
            "unknown message type",
            rawssh::framed(&[0x7f, 1, 2, 3]),
            None,
        ),
        ("empty message", rawssh::framed(&[]), None),
        (
            "OPEN with version 99",
            rawssh::framed(&{
                let mut b = open_body(13, b"echo", 0, b"");
                b[1] = 99;
                b
            }),
            Some(close_code::PROTOCOL),
        ),
        (
            "OPEN with channel id 0",
            rawssh::framed(&open_body(0, b"echo", 0, b"")),
            Some(close_code::PROTOCOL),
        ),
    ];
    let mut next_id = 101u64;
    let mut failures = Vec::new();
    for (what, bytes, want_code) in cases {
        let w = raw.open_ssh().await.unwrap();
        let ch = w.id();
        w.extended_data_bytes(2, bytes).await.unwrap();
        let closed = raw
            .wait_for(Duration::from_secs(3), |r| {
                r.closed.contains(&ch) || r.close_code(ch).is_some() || r.gone
            })
            .await;
        let code = raw.close_code(ch);
        eprintln!(
            "{what}: ssh channel closed={} streamkit CLOSE code={code:?}",
            raw.closed.contains(&ch)
        );
        if raw.gone {
            failures.push(format!("{what}: the server dropped the whole connection"));
            break;
        }
        if !closed {
            failures.push(format!("{what}: neither refused nor closed within 3 s"));
        }
        if let (Some(want), Some(got)) = (want_code, code) {
            if want != got {
                failures.push(format!("{what}: CLOSE code {got}, expected {want}"));
            }
        }
        // the same connection still opens good channels
        if !raw_echo_works(&mut raw, next_id).await {
            failures.push(format!(
                "after {what}: a valid OPEN on the same connection no longer works"
            ));
        }
        next_id += 2;
        // the honest client's existing channel still works
        honest_ch.write_frame(what.as_bytes()).await.unwrap();
        let f = tokio::time::timeout(Duration::from_secs(5), honest_ch.read_frame())
            .await
            .expect("honest channel stalled");
        assert_eq!(&f.unwrap().unwrap()[..], what.as_bytes());
    }
    // a second HELLO is ignored (PROTOCOL.md: "a second HELLO after the first
    // was accepted: ignore it"): it must not disturb anything
    let w = raw.open_ssh().await.unwrap();
    w.extended_data_bytes(
        2,
        Ctl::Hello {
            version: VERSION,
            name: "mallory".into(),
            window: 65536,
        }
        .encode(),
    )
    .await
    .unwrap();
    if !raw_echo_works(&mut raw, next_id).await {
        failures.push(
            "after a second HELLO: a valid OPEN on the same connection no longer works".into(),
        );
    }
    next_id += 2;
    // a truncated message that never completes just waits: it must not disturb anything
    let w = raw.open_ssh().await.unwrap();
    let mut partial = good.to_vec();
    partial.truncate(10);
    w.extended_data_bytes(2, Bytes::from(partial))
        .await
        .unwrap();
    let _ = w.close().await;
    if !raw_echo_works(&mut raw, next_id).await {
        failures.push(
            "after a never-completed message: a valid OPEN on the same connection no longer works"
                .into(),
        );
    }
    echo_roundtrip(&h.honest, "server").await.unwrap();
    raw.pump_now();
    assert!(!raw.gone, "the hostile connection was dropped as a whole");
    let (rss1, _, _) = h.server.stats();
    eprintln!("server RSS {rss0} -> {rss1} KiB");
    assert!(
        rss1 < rss0 + 64 * 1024,
        "server RSS grew from {rss0} to {rss1} KiB"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// An OPEN naming a parent channel that does not exist: refused with CLOSE
/// code 1 on its own SSH channel; the connection keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_with_unknown_parent_refused() {
    let _g = serial();
    let h = hostile_setup(&[]).await;
    let mut raw = mallory(&h).await;
    let w = raw.open_ssh().await.unwrap();
    let ch = w.id();
    w.extended_data_bytes(
        2,
        Ctl::Open {
            version: VERSION,
            id: 15,
            parent: 999_999,
            service: "echo".into(),
            headers: vec![],
        }
        .encode(),
    )
    .await
    .unwrap();
    let closed = raw
        .wait_for(Duration::from_secs(3), |r| {
            r.close_code(ch).is_some() || r.gone
        })
        .await;
    assert!(
        closed,
        "OPEN with an unknown parent was neither refused nor closed within 3 s"
    );
    assert_eq!(raw.close_code(ch), Some(close_code::REFUSED));
    assert!(
        raw_echo_works(&mut raw, 17).await,
        "the connection no longer opens channels"
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
}

/// russh queues channel messages for a channel's `Channel` object in a
/// bounded queue and stops reading the socket while it is full
/// (docs/PROTOCOL.md §20.3). streamkit drops that half and takes data through the
/// handler callbacks, so hundreds of SSH channel requests streamkit never
/// uses (exec, env) cannot stall the connection: channels still open and
/// echo after them. (A design that kept the queue without draining it in
/// every callback fails this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_channel_requests_do_not_stall_the_session() {
    let _g = serial();
    let h = hostile_setup(&[]).await;
    let mut raw = mallory(&h).await;
    let w = raw.open_ssh().await.unwrap();
    // Far more than russh's per-channel queue (channel_buffer_size, 100).
    for i in 0..300 {
        w.exec(false, format!("cmd {i}")).await.unwrap();
        w.set_env(false, "K", "V").await.unwrap();
    }
    assert!(
        raw_echo_works(&mut raw, 21).await,
        "the session stalled after 600 unused channel requests"
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
}

/// After a valid OPEN, a frame length prefix of 4 GiB - 1 on the data
/// stream: the server's read_frame fails with a protocol error (no 4 GiB
/// allocation), the channel is closed with CLOSE code 2, and nothing else is
/// affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_gib_frame_prefix_refused_without_allocating() {
    let _g = serial();
    let mut h = hostile_setup(&[]).await;
    let (rss0, _, _) = h.server.stats();
    let mut raw = mallory(&h).await;
    let w = raw_open(&raw, 1, "echo").await;
    let ch = w.id();
    w.data_bytes(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]))
        .await
        .unwrap();
    let ok = raw
        .wait_for(Duration::from_secs(5), |r| {
            r.close_code(ch).is_some() || r.gone
        })
        .await;
    assert!(ok, "no CLOSE for a channel that sent a 4 GiB frame length");
    assert!(!raw.gone, "the whole connection was dropped");
    assert_eq!(raw.close_code(ch), Some(close_code::PROTOCOL));
    assert!(
        raw_echo_works(&mut raw, 5).await,
        "the connection no longer opens channels"
    );
    // a frame just over MAX_FRAME_SIZE (16 MiB) too
    let w = raw_open(&raw, 3, "echo").await;
    let ch3 = w.id();
    w.data_bytes(Bytes::from(((16u32 << 20) + 1).to_be_bytes().to_vec()))
        .await
        .unwrap();
    assert!(
        raw.wait_for(Duration::from_secs(5), |r| r.close_code(ch3).is_some())
            .await
    );
    assert_eq!(raw.close_code(ch3), Some(close_code::PROTOCOL));
    let (rss1, _, _) = h.server.stats();
    eprintln!("server RSS {rss0} -> {rss1} KiB");
    assert!(
        rss1 < rss0 + 32 * 1024,
        "server RSS grew from {rss0} to {rss1} KiB"
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
}

/// Trailers are bounded per channel (PROTOCOL.md 11.1): a peer that sends
/// more than 512 KiB of them gets CLOSE code 2 on that channel only, and the
/// server does not keep them (200 x 1 MiB once grew it by 201 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailer_flood_is_refused_and_not_kept() {
    let _g = serial();
    let mut h = hostile_setup(&[]).await;
    let (rss0, _, _) = h.server.stats();
    let mut raw = mallory(&h).await;
    let w = raw_open(&raw, 1, "echo").await;
    let ch = w.id();
    // 400 KiB per message (under MAX_CONTROL_LEN); the second passes 512 KiB
    let msg = Ctl::Trailers(vec!["k=".to_string() + &"x".repeat(100 * 1024); 4]).encode();
    let mut sent = 0;
    for _ in 0..200 {
        if w.extended_data_bytes(2, msg.clone()).await.is_err() {
            break;
        }
        sent += 1;
        raw.pump_now();
        if raw.close_code(ch).is_some() || raw.gone {
            break;
        }
    }
    let ok = raw
        .wait_for(Duration::from_secs(30), |r| {
            r.close_code(ch).is_some() || r.gone
        })
        .await;
    assert!(ok, "no CLOSE after {sent} TRAILERS messages of 400 KiB");
    assert!(!raw.gone, "the whole connection was dropped");
    assert_eq!(raw.close_code(ch), Some(close_code::PROTOCOL));
    assert!(
        raw_echo_works(&mut raw, 3).await,
        "the connection no longer opens channels"
    );
    let (rss1, _, _) = h.server.stats();
    eprintln!("{sent} TRAILERS messages sent; server RSS {rss0} -> {rss1} KiB");
    assert!(
        rss1 < rss0 + 32 * 1024,
        "server RSS grew from {rss0} to {rss1} KiB"
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
}

/// Unfinished control messages on many SSH channels: each alone is under
/// MAX_CONTROL_LEN, together they pass the connection's 16 MiB budget, and
/// the server disconnects that connection instead of holding ~1 MiB on each
/// of thousands of channels. The honest client is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_control_messages_are_budgeted_per_connection() {
    let _g = serial();
    let mut h = hostile_setup(&[]).await;
    let (rss0, _, _) = h.server.stats();
    let mut raw = mallory(&h).await;
    // a 1 MiB message declared, 960 KiB of it sent, on 40 SSH channels
    let mut start = (1u32 << 20).to_be_bytes().to_vec();
    start.push(ty::OPEN);
    let chunk = Bytes::from(vec![0u8; 64 * 1024]);
    let mut opened = Vec::new();
    let mut sent = 0usize;
    'flood: for _ in 0..40 {
        let Ok(w) = raw.open_ssh().await else { break };
        if w.extended_data_bytes(2, Bytes::from(start.clone()))
            .await
            .is_err()
        {
            break;
        }
        for _ in 0..15 {
            if w.extended_data_bytes(2, chunk.clone()).await.is_err() {
                break 'flood;
            }
            sent += chunk.len();
        }
        opened.push(w);
        raw.pump_now();
        if raw.gone {
            break;
        }
    }
    let dropped = raw.wait_for(Duration::from_secs(30), |r| r.gone).await;
    assert!(
        dropped,
        "{} KiB of unfinished control messages on {} SSH channels, and the connection is still up",
        sent >> 10,
        opened.len()
    );
    assert!(sent > 16 << 20, "dropped after only {} KiB", sent >> 10);
    let (rss1, _, _) = h.server.stats();
    eprintln!("{} KiB sent; server RSS {rss0} -> {rss1} KiB", sent >> 10);
    assert!(
        rss1 < rss0 + 64 * 1024,
        "server RSS grew from {rss0} to {rss1} KiB"
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
}

/// An authenticated peer opens 100,000 channels (20,000 in fast mode) and
/// never reads anything: the server holds at most MAX_CHANNELS of them and
/// refuses the rest, its memory stays bounded (growth between the first
/// 20% and the end is small), and honest clients keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_unread_opens_are_bounded() {
    let _g = serial();
    let max_channels = 1000;
    let mut h = hostile_setup(&["--opt".into(), format!("MAX_CHANNELS={max_channels}")]).await;
    let (rss0, fds0, _) = h.server.stats();
    let raw = mallory(&h).await;
    let n: u64 = scale(20_000, 100_000);
    let raw = std::sync::Arc::new(tokio::sync::Mutex::new(raw));
    let handle = raw.lock().await.handle.clone();
    let t0 = Instant::now();
    let mut rss_at_20 = 0;
    let conc = 256u64;
    let mut done = 0u64;
    let mut writers = Vec::new();
    // SSH channel opens the server rejected outright (a per-connection bound
    // on SSH channels is a valid way of refusing)
    let mut ssh_refused = 0u64;
    while done < n {
        let batch: Vec<_> = (done..(done + conc).min(n))
            .map(|i| {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let ch = match tokio::time::timeout(
                        Duration::from_secs(10),
                        handle.channel_open_session(),
                    )
                    .await
                    {
                        Err(_) => {
                            return Err("channel_open_session: no answer within 10 s".to_string())
                        }
                        Ok(Err(russh::Error::ChannelOpenFailure(_))) => return Ok(None),
                        Ok(Err(e)) => return Err(e.to_string()),
                        Ok(Ok(ch)) => ch,
                    };
                    let (r, w) = ch.split();
                    drop(r);
                    w.extended_data_bytes(2, rawssh::open_msg(2 * i + 1, "hold"))
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>(Some(w))
                })
            })
            .collect();
        for b in batch {
            match b.await.unwrap() {
                Ok(Some(w)) => writers.push(w),
                Ok(None) => ssh_refused += 1,
                Err(e) => panic!("after {done} opens: {e}"),
            }
        }
        done = (done + conc).min(n);
        // never read: the server's replies accumulate unread in our queue
        if rss_at_20 == 0 && done >= n / 5 {
            rss_at_20 = h.server.stats().0;
            // honest traffic while the flood is going on
            echo_roundtrip(&h.honest, "server").await.unwrap();
        }
    }
    eprintln!("{n} OPENs sent in {:?}", t0.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss1, fds1, thr1) = h.server.stats();
    let mut raw = raw.lock().await;
    raw.pump_now();
    let close_refused = writers
        .iter()
        .filter(|w| raw.close_code(w.id()) == Some(close_code::REFUSED))
        .count() as u64;
    let refused = close_refused + ssh_refused;
    eprintln!(
        "server RSS {rss0} KiB at start, {rss_at_20} KiB after {} opens, {rss1} KiB after {n}; fds {fds0} -> {fds1}; threads {thr1}; refused {refused} ({close_refused} with CLOSE code 1, {ssh_refused} SSH channel opens rejected)",
        n / 5
    );
    echo_roundtrip(&h.honest, "server").await.unwrap();
    assert!(!raw.gone, "server dropped the connection");
    assert!(
        refused >= n - max_channels as u64 - 10,
        "only {refused} of {n} opens were refused (MAX_CHANNELS {max_channels})"
    );
    assert!(
        rss1 < rss_at_20 + 64 * 1024,
        "server memory keeps growing with unread opens: {rss_at_20} KiB after {} opens, {rss1} KiB after {n}",
        n / 5
    );
}

/// A peer that never calls accept(): at most ACCEPT_BACKLOG incoming channels
/// are queued; every further OPEN is refused (the opener's calls fail with a
/// closed error) and the queued ones work once accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_backlog_bounds_unaccepted_channels() {
    let _g = serial();
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c], &[]);
    let backlog = 100usize;
    s.set_option_int(PeerOption::AcceptBacklog, backlog as i64)
        .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    c.connect(&ep).await.unwrap();
    wait_for_peer(&s, "client", Duration::from_secs(10)).await;
    let n = 500usize;
    let mut chans = Vec::new();
    for i in 0..n {
        let ch = c.open("server", "echo", &[format!("i={i}")]).await.unwrap();
        chans.push(ch);
    }
    // refused channels fail; queued ones stay open
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut refused = 0;
    let mut open = Vec::new();
    for ch in chans {
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(20), ch.read(&mut b)).await {
            Ok(Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
                refused += 1;
            }
            Ok(Ok(k)) => panic!("read returned {k} on a channel nobody accepted"),
            Err(_) => open.push(ch),
        }
    }
    eprintln!(
        "{n} opens with ACCEPT_BACKLOG {backlog}: {refused} refused, {} queued",
        open.len()
    );
    assert_eq!(open.len(), backlog, "queued channels");
    assert_eq!(refused, n - backlog);
    spawn_echo_server(&s);
    for ch in &open[..10] {
        ch.write_frame(b"late").await.unwrap();
        let f = tokio::time::timeout(Duration::from_secs(5), ch.read_frame())
            .await
            .expect("queued channel never served");
        assert_eq!(&f.unwrap().unwrap()[..], b"late");
    }
    echo_roundtrip(&c, "server").await.unwrap();
}
