#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! Channel and connection statistics: counts checked against the bytes
//! actually sent, and stall attribution with a reader that does not read.

mod support;

use std::time::Duration;
use streamkit_core::PeerOption;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_counts_match_what_was_sent_on_every_transport() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "count", &[]).await;
        let sizes = [0usize, 1, 100, 5000, 70_000];
        for n in sizes {
            a.write_frame(&vec![7u8; n]).await.unwrap();
        }
        a.write(b"tail bytes").await.unwrap();
        a.write_error(b"oops").await.unwrap();
        let framed: u64 = sizes.iter().map(|n| 4 + *n as u64).sum();
        let want_sent = framed + 10 + 4 + 4;
        for n in sizes {
            assert_eq!(within(30, b.read_frame()).await.unwrap().unwrap().len(), n);
        }
        assert_eq!(
            within(30, b.read_error()).await.unwrap().unwrap().as_ref(),
            b"oops"
        );
        let sa = a.stats();
        assert_eq!(sa.bytes_sent, want_sent, "{t:?}");
        assert_eq!(sa.frames_sent, sizes.len() as u64 + 1, "{t:?}");
        assert_eq!(sa.bytes_received, 0);
        eventually("the receiver counted every byte", || {
            b.stats().bytes_received == want_sent
        })
        .await;
        let sb = b.stats();
        assert_eq!(sb.frames_received, sizes.len() as u64 + 1, "{t:?}");
        assert_eq!(sb.recv_buffered, 10, "the byte-stream tail is still unread");
        let mut tail = [0u8; 10];
        let mut got = 0;
        while got < 10 {
            got += within(30, b.read(&mut tail[got..])).await.unwrap();
        }
        assert_eq!(&tail, b"tail bytes");
        assert_eq!(b.stats().recv_buffered, 0);
        assert!(b.stats().recv_window > 0);

        // the connection's totals: this channel plus a barrier round trip
        // (8 bytes each way), before and after the channel finished
        round_trip(&c, &s, "server").await;
        let conn = c.stats();
        assert_eq!(conn.len(), 1, "{t:?}: one connection: {conn:?}");
        assert_eq!(conn[0].peer, "server");
        assert!(conn[0].bytes_sent >= want_sent, "{conn:?}");
        a.close().await.unwrap();
        b.close().await.unwrap();
        drop((a, b));
        eventually("the channel finished on the client", || {
            c.stats().first().is_some_and(|x| x.channels == 0)
        })
        .await;
        let conn = &c.stats()[0];
        assert_eq!(conn.bytes_sent, want_sent + 8, "{t:?}: {conn:?}");
        assert_eq!(conn.bytes_received, 8, "{t:?}: {conn:?}");
        let srv = &s.stats()[0];
        assert_eq!(srv.peer, "client");
        eventually("the channel finished on the server", || {
            s.stats().first().is_some_and(|x| x.channels == 0)
        })
        .await;
        let srv = &s.stats()[0];
        assert_eq!(srv.bytes_received, want_sent + 8, "{t:?}: {srv:?}");
        assert_eq!(srv.bytes_sent, 8);
        assert!(srv.connected_ms >= 0.0);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_stats_name_the_remote_key_and_a_round_trip() {
    let (s, c, ep) = pair(Transport::Tcp).await;
    let server_fp = fingerprint_of(&s.public_key().unwrap());
    let client_fp = fingerprint_of(&c.public_key().unwrap());
    let cs = &c.stats()[0];
    assert_eq!(cs.fingerprint, server_fp);
    assert_eq!(cs.endpoint, ep);
    assert!(
        cs.rtt_ms.is_some_and(|r| r > 0.0),
        "the hello exchange is a round trip: {cs:?}"
    );
    let ss = &s.stats()[0];
    assert_eq!(ss.fingerprint, client_fp);
    assert!(ss.endpoint.starts_with("tcp://127.0.0.1:"), "{ss:?}");
    assert_eq!(ss.channels, 0);
    s.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
    assert!(c.stats().is_empty(), "no connections after shutdown");
}

/// The fingerprint `ssh-keygen -lf` prints, through the core's own metadata.
fn fingerprint_of(public_line: &str) -> String {
    let k = russh::keys::PublicKey::from_openssh(public_line).unwrap();
    k.fingerprint(russh::keys::HashAlg::Sha256).to_string()
}

/// A reader that does not read: the writer's stall is counted on its side,
/// the unread data on the reader's, both while they last and not after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_are_attributed_to_the_side_that_does_not_read() {
    for t in ALL {
        let s = peer("server");
        let c = peer("client");
        trust_all(&[&s, &c]);
        for p in [&s, &c] {
            p.set_option_int(PeerOption::WindowBudget, 0).unwrap(); // fixed windows
        }
        let ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        let (a, b) = open_pair(&c, &s, "server", "stall", &[]).await;
        let window = b.receive_window();
        let total = window * 3;
        let writer = {
            let a = a.clone();
            tokio::spawn(async move { a.write(&vec![1u8; total]).await.unwrap() })
        };
        eventually("the writer waits for credit", || {
            a.stats().send_blocked_ms > 0.0
        })
        .await;
        eventually("the reader's window is full", || {
            b.stats().recv_buffered == window
        })
        .await;
        let (a1, b1) = (a.stats(), b.stats());
        // 150 ms asleep reads as at least 100 on the stall clock, which
        // ticks every few ms (CLOCK_MONOTONIC_COARSE).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (a2, b2) = (a.stats(), b.stats());
        assert!(
            a2.send_blocked_ms - a1.send_blocked_ms >= 100.0,
            "{t:?}: a stall in progress counts: {a1:?} -> {a2:?}"
        );
        assert!(
            b2.recv_unread_ms - b1.recv_unread_ms >= 100.0,
            "{t:?}: {b1:?} -> {b2:?}"
        );
        assert_eq!(a2.send_credit, 0);
        assert_eq!(b2.send_blocked_ms, 0.0, "the reader never waited to send");
        assert_eq!(a2.recv_unread_ms, 0.0, "the writer had nothing unread");
        // now read everything: both clocks stop
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < total {
            got += within(30, b.read(&mut buf)).await.unwrap();
        }
        within(30, writer).await.unwrap();
        let (a3, b3) = (a.stats(), b.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (a4, b4) = (a.stats(), b.stats());
        assert_eq!(
            a4.send_blocked_ms, a3.send_blocked_ms,
            "{t:?}: no writer waits now"
        );
        assert_eq!(
            b4.recv_unread_ms, b3.recv_unread_ms,
            "{t:?}: nothing is unread now"
        );
        assert_eq!(b4.recv_buffered, 0);
        assert_eq!(a4.bytes_sent, total as u64);
        assert_eq!(b4.bytes_received, total as u64);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
