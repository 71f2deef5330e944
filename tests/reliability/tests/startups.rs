//! Pre-authentication denial of service: only fast key exchanges are
//! offered (no finite-field Diffie-Hellman), and a flood of sockets that
//! never authenticate is bounded by MAX_STARTUPS and MAX_STARTUPS_PER_SOURCE
//! while established channels and honest clients keep working.

// Tests in a file hold SERIAL (a std Mutex) across awaits on purpose: each
// test has its own runtime, the lock only makes them run one at a time.
#![allow(clippy::await_holding_lock)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use streamkit_core::{PeerOption, MAX_STARTUPS, MAX_STARTUPS_PER_SOURCE};
use streamkit_reliability::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

static SERIAL: Mutex<()> = Mutex::new(());
const LIVENESS: Duration = Duration::from_secs(20);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read the SSH identification line, then the first binary packet (KEXINIT),
/// and return its key-exchange name-list.
async fn read_kex_names<R: AsyncRead + Unpin>(r: &mut R) -> Vec<String> {
    let mut line = Vec::new();
    loop {
        let b = r.read_u8().await.unwrap();
        line.push(b);
        if b == b'\n' {
            if line.starts_with(b"SSH-") {
                break;
            }
            line.clear();
        }
        assert!(line.len() < 256, "identification line too long");
    }
    let len = r.read_u32().await.unwrap() as usize;
    assert!(len < 64 * 1024, "KEXINIT of {len} bytes");
    let mut pkt = vec![0u8; len];
    r.read_exact(&mut pkt).await.unwrap();
    // padding length, SSH_MSG_KEXINIT (20), 16-byte cookie, name-list.
    assert_eq!(pkt[1], 20, "first packet is not KEXINIT");
    let p = &pkt[18..];
    let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
    String::from_utf8(p[4..4 + n].to_vec())
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect()
}

fn assert_modern(who: &str, names: &[String]) {
    assert!(
        names.iter().any(|n| n == "curve25519-sha256"),
        "{who} does not offer curve25519-sha256: {names:?}"
    );
    assert!(
        names.iter().all(|n| !n.starts_with("diffie-hellman")),
        "{who} offers a finite-field Diffie-Hellman key exchange: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_kexinit_offers_no_diffie_hellman_group() {
    let _g = serial();
    let s = peer("server");
    trust_all(&[&s], &[]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let mut sock = TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    sock.write_all(b"SSH-2.0-kexprobe\r\n").await.unwrap();
    let names = tokio::time::timeout(LIVENESS, read_kex_names(&mut sock))
        .await
        .expect("no KEXINIT from the server");
    assert_modern("the server", &names);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kexinit_offers_no_diffie_hellman_group() {
    let _g = serial();
    let c = peer("client");
    trust_all(&[&c], &[]);
    c.set_option_int(PeerOption::ConnectTimeout, 3000).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ep = format!("tcp://{}", l.local_addr().unwrap());
    let c2 = c.clone();
    let client = tokio::spawn(async move { c2.connect(&ep).await });
    let (mut sock, _) = tokio::time::timeout(LIVENESS, l.accept())
        .await
        .unwrap()
        .unwrap();
    sock.write_all(b"SSH-2.0-kexprobe\r\n").await.unwrap();
    let names = tokio::time::timeout(LIVENESS, read_kex_names(&mut sock))
        .await
        .expect("no KEXINIT from the client");
    assert_modern("the client", &names);
    drop(sock);
    drop(l);
    assert!(client.await.unwrap().is_err());
}

/// Connect from source address `src` (any 127/8 address works on Linux).
async fn connect_from(src: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((src, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// True when the server sent its SSH banner (admitted), false when it
/// closed the socket without a byte (refused by MAX_STARTUPS).
async fn admitted(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 4];
    let n = tokio::time::timeout(LIVENESS, s.read(&mut b))
        .await
        .expect("the server neither sent a banner nor closed the socket")
        .unwrap_or(0);
    if n > 0 {
        assert_eq!(&b[..n], &b"SSH-"[..n]);
    }
    n > 0
}

async fn flood(src: [u8; 4], to: SocketAddr, n: usize, banner: bool) -> (Vec<TcpStream>, usize) {
    let mut socks = Vec::new();
    for _ in 0..n {
        let mut s = connect_from(src, to).await;
        if banner {
            s.write_all(b"SSH-2.0-flood\r\n").await.unwrap();
        }
        socks.push(s);
    }
    let mut ok = 0;
    for s in &mut socks {
        if admitted(s).await {
            ok += 1;
        }
    }
    (socks, ok)
}

/// 200 sockets from one address that never authenticate (half send a
/// banner, half nothing): exactly MAX_STARTUPS_PER_SOURCE are admitted and
/// the rest closed at once; an established channel still echoes and an
/// honest client still connects. A second flooding address fills the
/// global MAX_STARTUPS; when the first flood goes away its slots are free
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_flood_is_bounded_and_honest_clients_are_served() {
    let _g = serial();
    raise_nofile(4096);
    let s = peer("server");
    let c = peer("honest");
    let late = peer("late");
    trust_all(&[&s, &c, &late], &[]);
    // Long enough that admitted flood sockets keep their slots for the test.
    s.set_option_int(PeerOption::HandshakeTimeout, 120_000)
        .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = ep.trim_start_matches("tcp://").parse().unwrap();
    spawn_echo_server(&s);
    c.connect(&ep).await.unwrap();
    let ch = c.open("server", "echo", &[]).await.unwrap();
    ch.write_frame(b"before").await.unwrap();
    assert_eq!(&ch.read_frame().await.unwrap().unwrap()[..], b"before");

    let (a1, ok1) = flood([127, 0, 0, 2], addr, 100, false).await;
    let (a2, ok2) = flood([127, 0, 0, 2], addr, 100, true).await;
    assert_eq!(
        ok1 + ok2,
        MAX_STARTUPS_PER_SOURCE,
        "admitted from one address"
    );

    let echo = async {
        ch.write_frame(b"during").await.unwrap();
        ch.read_frame().await.unwrap().unwrap()
    };
    let f = tokio::time::timeout(LIVENESS, echo)
        .await
        .expect("an established channel stalled during the flood");
    assert_eq!(&f[..], b"during");
    tokio::time::timeout(LIVENESS, late.connect(&ep))
        .await
        .expect("an honest client could not connect during the flood")
        .unwrap();
    echo_roundtrip(&late, "server").await.unwrap();

    // A second address takes the remaining slots: the global limit is reached.
    let (b, okb) = flood([127, 0, 0, 3], addr, MAX_STARTUPS, false).await;
    assert_eq!(okb, MAX_STARTUPS - MAX_STARTUPS_PER_SOURCE);
    let mut probe = connect_from([127, 0, 0, 4], addr).await;
    assert!(
        !admitted(&mut probe).await,
        "a socket beyond MAX_STARTUPS was admitted"
    );
    // The first flood leaves: its slots come back (event-driven: retry a
    // fresh probe until the server admits one, within a generous bound).
    drop((a1, a2));
    let t0 = std::time::Instant::now();
    loop {
        let mut p = connect_from([127, 0, 0, 4], addr).await;
        if admitted(&mut p).await {
            break;
        }
        assert!(t0.elapsed() < LIVENESS, "slots were not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ch.write_frame(b"after").await.unwrap();
    assert_eq!(&ch.read_frame().await.unwrap().unwrap()[..], b"after");
    drop(b);
}

const EXE: &str = env!("CARGO_BIN_EXE_sk-rel-peer");

/// CPU seconds (user + system) the process `pid` has used.
fn cpu_secs(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // fields after the parenthesised command name; utime, stime are 14, 15
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// A server out of descriptors (a soft limit of 40, held by admitted
/// sockets that never authenticate): accept fails with EMFILE, and the
/// listener backs off instead of spinning on the connections still queued;
/// once the flood is gone it serves an honest client again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_backs_off_and_recovers() {
    let _g = serial();
    raise_nofile(4096);
    let ids = Identities::new(&["server", "honest"]);
    // AUTHORIZED_KEYS as text: serving a socket then needs no descriptor
    // beyond the socket, so the accept itself is what runs out.
    let auth = std::fs::read_to_string(ids.auth_path()).unwrap();
    let extra: Vec<String> = [
        "--nofile",
        "40",
        "--opt",
        "HANDSHAKE_TIMEOUT=120000",
        "--auth",
        &auth,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (server, ep) = spawn_bound(EXE, &ids, "server", "tcp://127.0.0.1:0", &extra);
    let addr: SocketAddr = ep.trim_start_matches("tcp://").parse().unwrap();
    // Two source addresses, 32 each: more than the descriptors left.
    let mut held = Vec::new();
    for src in [[127, 0, 0, 5], [127, 0, 0, 6]] {
        for _ in 0..MAX_STARTUPS_PER_SOURCE {
            held.push(connect_from(src, addr).await);
        }
    }
    // Wait until the server holds every descriptor it may (counted from
    // here: the server itself can open nothing now).
    let pid = server.pid();
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let t0 = std::time::Instant::now();
    while fds() < 40 {
        assert!(
            t0.elapsed() < LIVENESS,
            "the server holds only {} of 40 descriptors",
            fds()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Connections still queued, accept failing: no busy loop.
    let c0 = cpu_secs(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_secs(pid) - c0;
    assert!(
        used < 0.5,
        "the server used {used:.2} s of CPU in 2 s out of descriptors"
    );
    // The flood leaves: the server serves again.
    drop(held);
    let honest = ids.peer("honest");
    tokio::time::timeout(Duration::from_secs(30), honest.connect(&ep))
        .await
        .expect("no connection within 30 s after the flood left")
        .unwrap();
    echo_roundtrip(&honest, "server").await.unwrap();
    honest.shutdown().await.unwrap();
}
