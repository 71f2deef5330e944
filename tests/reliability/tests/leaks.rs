//! Leaks: channels opened and closed, frames sent over one connection, and
//! connects/disconnects: resident memory and open file descriptors return to
//! within 10% of the baseline, and the thread count does not grow.
//!
//! Fast mode uses small counts; STREAMKIT_SOAK=1 runs the full sizes:
//! 100,000 channels + 10,000,000 frames over one connection, and 10,000
//! connects/disconnects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// test code may abort

// Tests in a file hold SERIAL (a std Mutex) across awaits on purpose: each
// test has its own runtime, the lock only makes them run one at a time.
#![allow(clippy::await_holding_lock)]

use std::sync::Mutex;
use std::time::{Duration, Instant};
use streamkit_core::{Peer, PeerOption};
use streamkit_reliability::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    rss_kib: u64,
    fds: usize,
    threads: u64,
}

/// Give freed heap memory back to the OS before reading RSS, so RSS
/// measures live memory (glibc keeps freed chunks, and raises its mmap
/// threshold after large frees). A leak is live memory and still shows.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A peer for these tests: fixed receive windows (WINDOW_BUDGET 0). With
/// auto-tuned windows (up to 4 MiB on loopback) each connection keeps
/// buffers sized by its largest burst (russh's packet buffer among them),
/// and how large that burst gets is timing: 1-2.5 MiB of run-to-run RSS
/// variance around a 12-14 MiB baseline, more than the 10% this test allows.
/// The window's own bounds are tested in streamkit-core's window_tuning.
fn leak_peer(name: &str) -> Peer {
    let p = peer(name);
    p.set_option_int(PeerOption::WindowBudget, 0).unwrap();
    p
}

fn usage() -> Usage {
    trim_heap();
    Usage {
        rss_kib: rss_kib("self"),
        fds: fds("self"),
        threads: threads("self"),
    }
}

/// Wait (up to 15 s: tokio retires idle blocking threads after 10 s) for
/// usage to come back within 10% of `base` (fds, RSS) and to base threads.
async fn check_returns(label: &str, base: Usage) -> Usage {
    let ok = |u: &Usage| {
        u.rss_kib as f64 <= base.rss_kib as f64 * 1.10
            && u.fds as f64 <= (base.fds as f64 * 1.10).max(base.fds as f64 + 1.0)
            && u.threads <= base.threads
    };
    let t0 = Instant::now();
    let mut u = usage();
    while !ok(&u) && t0.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        u = usage();
    }
    eprintln!(
        "{label}: baseline RSS {} KiB, {} fds, {} threads; after: RSS {} KiB ({:+.1}%), {} fds, {} threads",
        base.rss_kib,
        base.fds,
        base.threads,
        u.rss_kib,
        (u.rss_kib as f64 / base.rss_kib as f64 - 1.0) * 100.0,
        u.fds,
        u.threads
    );
    u
}

fn assert_within(label: &str, base: Usage, u: Usage) {
    assert!(
        u.fds as f64 <= (base.fds as f64 * 1.10).max(base.fds as f64 + 1.0),
        "{label}: open fds {} -> {}",
        base.fds,
        u.fds
    );
    assert!(
        u.threads <= base.threads,
        "{label}: threads {} -> {}",
        base.threads,
        u.threads
    );
    assert!(
        u.rss_kib as f64 <= base.rss_kib as f64 * 1.10,
        "{label}: RSS {} KiB -> {} KiB (more than 10% over the baseline)",
        base.rss_kib,
        u.rss_kib
    );
}

/// Serve: every accepted channel is read to the end (frames), then closed.
fn spawn_drain_server(p: &Peer) {
    let p = p.clone();
    tokio::spawn(async move {
        while let Ok(ch) = p.accept().await {
            tokio::spawn(async move {
                while let Ok(Some(_)) = ch.read_frame().await {}
                let _ = ch.close().await;
            });
        }
    });
}

async fn churn_channels(c: &Peer, n: usize) {
    let conc = 16;
    let mut tasks = Vec::new();
    for t in 0..conc {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                let ch = c
                    .open("server", "churn", &[format!("i={i}")])
                    .await
                    .unwrap();
                ch.write_frame(b"hello").await.unwrap();
                ch.close_write().await.unwrap();
                // wait for the server's close
                let _ = tokio::time::timeout(Duration::from_secs(10), ch.read_frame())
                    .await
                    .expect("server never closed");
                ch.close().await.unwrap();
                i += conc;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn send_frames(c: &Peer, n: u64) {
    let ch = c.open("server", "frames", &[]).await.unwrap();
    let payload = [0x5au8; 64];
    for _ in 0..n {
        ch.write_frame(&payload).await.unwrap();
    }
    ch.close_write().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), ch.read_frame())
        .await
        .expect("server never closed");
    ch.close().await.unwrap();
}

/// 100,000 channels opened and closed (fast: 3,000) and 10,000,000 frames
/// (fast: 200,000) over one connection: RSS and fds back within 10% of the
/// baseline, no thread growth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_frames_return_to_baseline() {
    let _g = serial();
    let s = leak_peer("server");
    let c = leak_peer("client");
    trust_all(&[&s, &c], &[]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_drain_server(&s);
    c.connect(&ep).await.unwrap();
    // warm up: pools, allocator arenas, runtime threads
    churn_channels(&c, scale(2_000, 20_000)).await;
    send_frames(&c, scale(100_000, 1_000_000)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = usage();
    let n_ch = scale(3_000, 100_000);
    let n_fr = scale(200_000u64, 10_000_000);
    let t0 = Instant::now();
    // in quarters, printing RSS after each: a leak shows as steady growth
    for q in 1..=4 {
        churn_channels(&c, n_ch / 4).await;
        eprintln!(
            "after {} channels: RSS {} KiB",
            q * n_ch / 4,
            rss_kib("self")
        );
    }
    eprintln!("{n_ch} channels opened and closed in {:?}", t0.elapsed());
    let t0 = Instant::now();
    send_frames(&c, n_fr).await;
    eprintln!("{n_fr} frames sent in {:?}", t0.elapsed());
    let u = check_returns("channels+frames", base).await;
    assert_within("channels+frames", base, u);
    assert_eq!(c.peers(), vec!["server".to_string()]);
}

/// 10,000 connects/disconnects (fast: 300): half by one client peer
/// (connect + disconnect), half by short-lived peers (connect + shutdown).
/// Both sides live in this process; RSS and fds back within 10%, no thread
/// growth, and the server lists no stale peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_and_disconnects_return_to_baseline() {
    let _g = serial();
    let s = leak_peer("server");
    let c = leak_peer("client");
    let keys: Vec<String> = (0..4).map(|_| streamkit_core::generate_key()).collect();
    let extra: Vec<String> = keys.iter().map(|k| public_of(k)).collect();
    trust_all(&[&s, &c], &extra);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_drain_server(&s);
    let n = scale(300, 10_000);
    let cycle = |i: usize| {
        let c = c.clone();
        let s_pub = s.public_key().unwrap();
        let ep = ep.clone();
        let key = keys[i % keys.len()].clone();
        async move {
            if i & 1 == 0 {
                c.connect(&ep).await.unwrap();
                let ch = c.open("server", "x", &[]).await.unwrap();
                ch.write_frame(b"x").await.unwrap();
                ch.close().await.unwrap();
                c.disconnect(&ep).await.unwrap();
            } else {
                let p = Peer::new();
                p.set_option_str(PeerOption::Name, &format!("eph{}", i % 4))
                    .unwrap();
                p.set_option_str(PeerOption::PrivateKey, &key).unwrap();
                p.set_option_str(PeerOption::AuthorizedKeys, &s_pub)
                    .unwrap();
                p.connect(&ep).await.unwrap();
                p.shutdown().await.unwrap();
            }
        }
    };
    for i in 0..200 {
        cycle(i).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = usage();
    let t0 = Instant::now();
    for i in 0..n {
        cycle(i).await;
    }
    eprintln!("{n} connects/disconnects in {:?}", t0.elapsed());
    let s2 = s.clone();
    let t1 = Instant::now();
    while !s2.peers().is_empty() && t1.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        s.peers().is_empty(),
        "server still lists {:?} after every client left",
        s.peers()
    );
    let u = check_returns("connects/disconnects", base).await;
    assert_within("connects/disconnects", base, u);
}
