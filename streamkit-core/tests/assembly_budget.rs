//! Large frames share a per-connection assembly budget (64 MiB, or
//! MAX_FRAME_SIZE if larger): more of them at once than it holds wait their
//! turn instead of failing or growing memory, and every one arrives whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_large_frames_than_the_budget_holds_all_arrive() {
    for t in [Transport::Tcp, Transport::Inproc] {
        let (s, c, _) = pair(t).await;
        // 6 channels x 15 MiB frames: the 64 MiB budget holds 4 at a time
        const N: usize = 6;
        const LEN: usize = 15 << 20;
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for i in 0..N {
            let (a, b) = open_pair(&c, &s, "server", "big", &[]).await;
            writers.push(tokio::spawn(async move {
                let f: Vec<u8> = (0..LEN).map(|k| (k * 31 + i) as u8).collect();
                a.write_frame(&f).await.unwrap();
                a.write_frame(b"after").await.unwrap();
                a
            }));
            readers.push(tokio::spawn(async move {
                let f = b.read_frame().await.unwrap().expect("a frame");
                assert_eq!(f.len(), LEN, "{t:?} channel {i}");
                assert!(
                    f.iter().enumerate().all(|(k, &x)| x == (k * 31 + i) as u8),
                    "{t:?} channel {i}: wrong bytes"
                );
                assert_eq!(
                    b.read_frame().await.unwrap().as_deref(),
                    Some(&b"after"[..])
                );
                b
            }));
        }
        for r in readers {
            within(120, r).await.unwrap();
        }
        for w in writers {
            within(120, w).await.unwrap();
        }
        c.shutdown().await.unwrap();
        s.shutdown().await.unwrap();
    }
}
