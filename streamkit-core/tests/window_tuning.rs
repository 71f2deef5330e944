//! Receive-window auto-tuning (WINDOW_BUDGET): a fast reader's window grows,
//! never past CHANNEL_WINDOW + WINDOW_BUDGET, and a reader that stops reading
//! still holds its sender back at the (grown) window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::{Channel, Peer, PeerOption};
use support::*;

const WINDOW: usize = 64 * 1024;

async fn tuned_pair(t: Transport, budget: i64) -> (Peer, Peer) {
    let s = peer("server");
    let c = peer("client");
    for p in [&s, &c] {
        p.set_option_int(PeerOption::ChannelWindow, WINDOW as i64)
            .unwrap();
        p.set_option_int(PeerOption::WindowBudget, budget).unwrap();
    }
    trust_all(&[&s, &c]);
    let ep = s.bind(&endpoint(t)).await.unwrap();
    c.connect(&ep).await.unwrap();
    assert_knows(&s, "client");
    (s, c)
}

/// Move `total` bytes from `a` to `b` with a reader that keeps up, checking them.
async fn transfer(a: &Channel, b: &Channel, total: usize) {
    let a2 = a.clone();
    let w = tokio::spawn(async move {
        let chunk = bytes::Bytes::from(vec![5u8; 64 * 1024]);
        let mut n = 0;
        while n < total {
            a2.write_bytes(chunk.clone()).await.unwrap();
            n += chunk.len();
        }
    });
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < total {
        let n = within(60, b.read(&mut buf)).await.unwrap();
        assert!(
            n > 0 && buf[..n].iter().all(|&x| x == 5),
            "corrupt or short data"
        );
        got += n;
    }
    within(10, w).await.unwrap();
}

/// With the reader stopped, how far can the writer get ahead? Counted in
/// stream bytes (frame headers included) of 8 KiB frames queued with
/// `try_write_frame` until it reports that the window is full. A round trip
/// on the connection first lets every credit the reader sent land; one after
/// checks that no more arrives.
async fn written_ahead(a: &Channel, c: &Peer, s: &Peer) -> usize {
    round_trip(c, s, "server").await;
    let frame = vec![9u8; 8 * 1024];
    let mut ahead = 0usize;
    while a.try_write_frame(&frame).unwrap() {
        ahead += 4 + frame.len();
        assert!(ahead < 1 << 30, "the writer was never held back");
    }
    round_trip(c, s, "server").await;
    assert!(
        !a.try_write_frame(&frame).unwrap(),
        "credit arrived although the reader stopped"
    );
    ahead
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_reader_grows_window_within_budget_and_backpressure_still_holds() {
    for t in ALL {
        let budget = 8 << 20;
        let (s, c) = tuned_pair(t, budget as i64).await;
        let (a, b) = open_pair(&c, &s, "server", "bulk", &[]).await;
        assert_eq!(b.receive_window(), WINDOW);
        // Grow: a window-limited transfer with a reader that keeps up. Growth
        // is driven by timing, so allow several rounds on a busy machine.
        let mut moved = 0usize;
        while b.receive_window() < 4 * WINDOW && moved < (2 << 30) {
            transfer(&a, &b, 32 << 20).await;
            moved += 32 << 20;
        }
        let win = b.receive_window();
        assert!(
            win >= 4 * WINDOW,
            "{t:?}: window still {win} after {moved} bytes with a reader that keeps up"
        );
        assert!(
            win <= WINDOW + budget,
            "{t:?}: window {win} beyond CHANNEL_WINDOW + WINDOW_BUDGET"
        );
        // Stop reading: the writer gets at most one (grown) window ahead.
        let ahead = written_ahead(&a, &c, &s).await;
        let win = b.receive_window();
        assert!(
            ahead <= win,
            "{t:?}: writer got {ahead} bytes ahead of a stopped reader, window {win}"
        );
        assert!(
            ahead > WINDOW,
            "{t:?}: writer only {ahead} bytes ahead: the grown window ({win}) was not granted"
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_budget_keeps_the_window_fixed() {
    for t in [Transport::Tcp, Transport::Inproc] {
        let (s, c) = tuned_pair(t, 0).await;
        let (a, b) = open_pair(&c, &s, "server", "bulk", &[]).await;
        transfer(&a, &b, 64 << 20).await;
        assert_eq!(b.receive_window(), WINDOW, "{t:?}");
        // (How far ahead depends on whether the last CREDIT has arrived yet:
        // only the upper bound is deterministic.)
        let ahead = written_ahead(&a, &c, &s).await;
        assert!(
            ahead <= WINDOW,
            "{t:?}: writer got {ahead} bytes ahead of a stopped reader, window {WINDOW}"
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_is_shared_by_the_connection_and_returned_on_close() {
    let budget = 1 << 20;
    let (s, c) = tuned_pair(Transport::Tcp, budget as i64).await;
    let mut grown = Vec::new();
    for round in 0..3 {
        // two channels at once: their growth together stays within the budget
        let (a1, b1) = open_pair(&c, &s, "server", "one", &[]).await;
        let (a2, b2) = open_pair(&c, &s, "server", "two", &[]).await;
        let mut moved = 0usize;
        while b1.receive_window() + b2.receive_window() < 2 * WINDOW + budget / 2
            && moved < (1 << 30)
        {
            tokio::join!(transfer(&a1, &b1, 16 << 20), transfer(&a2, &b2, 16 << 20));
            moved += 32 << 20;
        }
        let extra = b1.receive_window() + b2.receive_window() - 2 * WINDOW;
        assert!(
            extra <= budget,
            "round {round}: {extra} bytes of growth, budget {budget}"
        );
        grown.push(extra);
        for ch in [&a1, &b1, &a2, &b2] {
            ch.close().await.unwrap();
        }
        // the next round can only grow as far if the closed channels gave their growth back
        eventually("all four ends closed", || {
            [&a1, &b1, &a2, &b2].iter().all(|ch| ch.is_closed())
        })
        .await;
        round_trip(&c, &s, "server").await;
    }
    assert!(
        grown[2] >= budget / 2,
        "budget not returned after close: growth per round {grown:?}"
    );
    s.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}
