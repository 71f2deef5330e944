//! Readiness descriptors (`Channel::poll_fd`, `Peer::poll_fd`): readable
//! exactly while a read / accept / next_event would not wait.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use std::time::Duration;
use streamkit_core::{Channel, EventKind, Peer};
use support::*;

/// poll(2) on `fd` for up to `ms` milliseconds, off the runtime's threads.
async fn readable(fd: i32, ms: i32) -> bool {
    tokio::task::spawn_blocking(move || {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        assert!(n >= 0, "poll failed");
        n == 1 && p.revents & libc::POLLIN != 0
    })
    .await
    .unwrap()
}

/// Readable now (a liveness bound: fails only on a real hang).
async fn becomes_readable(fd: i32) {
    assert!(
        readable(fd, 30_000).await,
        "descriptor never became readable"
    );
}

async fn not_readable(fd: i32) {
    assert!(
        !readable(fd, 0).await,
        "descriptor is readable with nothing to read"
    );
}

async fn read_now(c: &Channel, buf: &mut [u8]) -> Option<usize> {
    tokio::time::timeout(Duration::ZERO, c.read(buf))
        .await
        .ok()
        .map(|r| r.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_bytes_and_end_of_stream() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
        let fd = b.poll_fd().unwrap();
        assert_eq!(b.poll_fd().unwrap(), fd, "one descriptor per channel");
        not_readable(fd).await;
        a.write(b"hello").await.unwrap();
        becomes_readable(fd).await;
        let mut buf = [0u8; 3];
        assert_eq!(read_now(&b, &mut buf).await, Some(3));
        // Two bytes are still there: level-triggered, still readable.
        assert!(readable(fd, 0).await, "unread bytes but not readable");
        assert_eq!(read_now(&b, &mut buf).await, Some(2));
        not_readable(fd).await;
        assert_eq!(read_now(&b, &mut buf).await, None, "nothing to read");
        a.close_write().await.unwrap();
        becomes_readable(fd).await;
        assert_eq!(read_now(&b, &mut buf).await, Some(0), "end of stream");
        // The end stays readable, as on a socket.
        assert!(readable(fd, 0).await);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_reader_waits_for_whole_frames() {
    let (s, c, _) = pair(Transport::Tcp).await;
    let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
    let fd = b.poll_fd().unwrap();
    // A frame read (nothing there yet) makes readiness follow whole frames.
    assert!(tokio::time::timeout(Duration::ZERO, b.read_frame())
        .await
        .is_err());
    // Half a frame: a 5-byte frame's length and two of its bytes.
    a.write(&[0, 0, 0, 5, b'a', b'b']).await.unwrap();
    let probe = c.open("server", "probe", &[]).await.unwrap();
    let p = within(30, s.accept()).await.unwrap();
    probe.write_frame(b"x").await.unwrap();
    // The probe's frame was sent after the half frame on the same
    // connection, so the half frame has arrived once the probe's has.
    assert_eq!(
        within(30, p.read_frame()).await.unwrap().as_deref(),
        Some(&b"x"[..])
    );
    not_readable(fd).await;
    a.write(b"cde").await.unwrap();
    becomes_readable(fd).await;
    let f = tokio::time::timeout(Duration::ZERO, b.read_frame())
        .await
        .expect("a whole frame is there")
        .unwrap();
    assert_eq!(f.as_deref(), Some(&b"abcde"[..]));
    not_readable(fd).await;
    // An error frame makes it readable too.
    a.write_error(b"oops").await.unwrap();
    becomes_readable(fd).await;
    let e = tokio::time::timeout(Duration::ZERO, b.read_error())
        .await
        .expect("an error frame is there")
        .unwrap();
    assert_eq!(e.as_deref(), Some(&b"oops"[..]));
    not_readable(fd).await;
    // A byte read switches back to "any byte": four bytes sent in one
    // write arrive together; after reading one, three are waiting.
    a.write(&[0, 0, 0, 9]).await.unwrap();
    let mut one = [0u8; 1];
    assert_eq!(within(30, b.read(&mut one)).await.unwrap(), 1);
    assert!(readable(fd, 0).await, "bytes are waiting for a byte reader");
    s.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_closed_by_the_remote_or_locally_is_readable() {
    let (s, c, _) = pair(Transport::Unix).await;
    let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
    let fd = b.poll_fd().unwrap();
    not_readable(fd).await;
    a.close().await.unwrap();
    becomes_readable(fd).await;
    let (a2, b2) = open_pair(&c, &s, "server", "y", &[]).await;
    let fd2 = b2.poll_fd().unwrap();
    assert_ne!(fd, fd2);
    not_readable(fd2).await;
    b2.close().await.unwrap();
    assert!(
        readable(fd2, 0).await,
        "a closed channel's reads fail at once"
    );
    drop(a2);
    s.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

/// Take every queued event without waiting.
async fn drain_events(p: &Peer) -> Vec<EventKind> {
    let mut v = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::ZERO, p.next_event()).await {
        v.push(e.kind);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_accept_and_events() {
    let s = peer("server");
    let c = peer("client");
    trust_all(&[&s, &c]);
    let fd = s.poll_fd().unwrap();
    assert_eq!(s.poll_fd().unwrap(), fd);
    not_readable(fd).await;
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    c.connect(&ep).await.unwrap();
    becomes_readable(fd).await;
    let kinds = drain_events(&s).await;
    assert!(kinds.contains(&EventKind::Connected), "{kinds:?}");
    not_readable(fd).await;
    let a = c.open("server", "svc", &[]).await.unwrap();
    becomes_readable(fd).await;
    assert!(drain_events(&s).await.is_empty(), "a channel, not an event");
    let b = tokio::time::timeout(Duration::ZERO, s.accept())
        .await
        .expect("a channel is queued")
        .unwrap();
    assert_eq!(b.meta().service, "svc");
    not_readable(fd).await;
    drop(a);
    c.shutdown().await.unwrap();
    becomes_readable(fd).await;
    let kinds = drain_events(&s).await;
    assert!(kinds.contains(&EventKind::Disconnected), "{kinds:?}");
    not_readable(fd).await;
    // Shut down: accept fails and events end at once, so it stays readable.
    s.shutdown().await.unwrap();
    becomes_readable(fd).await;
    assert!(s.accept().await.is_err());
    drain_events(&s).await;
    assert!(readable(fd, 0).await);
}
