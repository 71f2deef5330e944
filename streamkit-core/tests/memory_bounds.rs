//! Memory bounds: backpressure and channel churn. RSS is process-wide, so
//! these tests run one at a time (MEM lock) in their own test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::*;

static MEM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_bounds_memory() {
    let _g = MEM.lock().await;
    for t in [Transport::Tcp, Transport::Inproc] {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "bulk", &[]).await;
        let before = rss_kib();
        let a2 = a.clone();
        let progress = Arc::new(AtomicU64::new(0));
        let p2 = progress.clone();
        const CHUNK: u64 = 64 << 10;
        let writer = tokio::spawn(async move {
            let chunk = bytes::Bytes::from(vec![7u8; CHUNK as usize]);
            let mut sent = 0u64;
            while sent < (1 << 30) {
                a2.write_bytes(chunk.clone()).await.unwrap();
                sent += chunk.len() as u64;
                p2.store(sent, Ordering::SeqCst);
            }
            sent
        });
        // the writer uses up the credit it was granted up front...
        let window = b.receive_window() as u64;
        eventually("the writer filled the window", || {
            progress.load(Ordering::SeqCst) + CHUNK >= window
        })
        .await;
        // ...and after a round trip on the same connection (so anything in
        // flight has landed) it is still held at the window
        round_trip(&c, &s, "server").await;
        let sent = progress.load(Ordering::SeqCst);
        assert!(
            sent <= window,
            "writer got {sent} bytes ahead of a stalled reader, window {window} ({t:?})"
        );
        assert!(!writer.is_finished(), "writer was not blocked ({t:?})");
        let grown = rss_kib().saturating_sub(before);
        assert!(
            grown < 8 * 1024,
            "memory grew by {grown} KiB with a stalled reader ({t:?})"
        );
        // now drain it all and check every byte arrived
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        while total < (1 << 30) {
            let n = within(60, b.read(&mut buf)).await.unwrap();
            assert!(buf[..n].iter().all(|&x| x == 7));
            total += n as u64;
        }
        assert_eq!(within(10, writer).await.unwrap(), 1 << 30);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_see_close_and_churn_does_not_leak() {
    let _g = MEM.lock().await;
    for t in ALL {
        let (s, c, _) = pair(t).await;
        // both sides observe a close, whichever side closes
        for closer_is_opener in [true, false] {
            let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
            let (first, second) = if closer_is_opener { (&a, &b) } else { (&b, &a) };
            first.close().await.unwrap();
            assert_eq!(within(5, second.read_frame()).await.unwrap(), None);
            second.close().await.unwrap();
            eventually(&format!("both ends closed ({t:?})"), || {
                a.is_closed() && b.is_closed()
            })
            .await;
        }
        let run = |n: usize| {
            let (s, c) = (s.clone(), c.clone());
            async move {
                for i in 0..n {
                    let a = c.open("server", "churn", &[]).await.unwrap();
                    a.write_frame(b"x").await.unwrap();
                    let b = within(5, s.accept()).await.unwrap();
                    assert_eq!(
                        within(5, b.read_frame()).await.unwrap().as_deref(),
                        Some(&b"x"[..])
                    );
                    if i % 2 == 0 {
                        a.close().await.unwrap();
                        drop(b);
                    } else {
                        b.close().await.unwrap();
                        drop(a);
                    }
                }
            }
        };
        run(2000).await; // warm up allocator and pools
        round_trip(&c, &s, "server").await;
        let before = rss_kib();
        run(10_000).await;
        // closed channels are freed in the background: wait for it (a leak
        // never gets there; the wait is a liveness bound only)
        eventually(
            &format!("RSS back within 10% of {before} KiB after 10,000 channels ({t:?})"),
            || rss_kib() <= before + before / 10,
        )
        .await;
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
