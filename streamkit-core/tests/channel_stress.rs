//! Many channels, nesting, join, flow control, isolation and churn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use std::time::Duration;
use streamkit_core::{ErrorKind, PeerOption};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_channels_at_once() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let mut opened = Vec::new();
        for i in 0..1000 {
            opened.push(c.open("server", "many", &[format!("i={i}")]).await.unwrap());
        }
        let mut accepted = Vec::new();
        for _ in 0..1000 {
            accepted.push(within(10, s.accept()).await.unwrap());
        }
        for (i, ch) in opened.iter().enumerate() {
            ch.write_frame(format!("{i}").as_bytes()).await.unwrap();
        }
        for ch in &accepted {
            let i: usize = ch.headers()[0][2..].parse().unwrap();
            let f = within(10, ch.read_frame()).await.unwrap().unwrap();
            assert_eq!(f, format!("{i}").as_bytes(), "{t:?}");
        }
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_three_levels() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a1, b1) = open_pair(&c, &s, "server", "level1", &[]).await;
        let a2 = a1.open("level2", &["d=2".into()]).await.unwrap();
        let b2 = within(5, b1.accept()).await.unwrap();
        assert_eq!(b2.service(), "level2");
        // the server opens the third level inside the second, towards the client
        let b3 = b2.open("level3", &[]).await.unwrap();
        let a3 = within(5, a2.accept()).await.unwrap();
        assert_eq!(a3.service(), "level3");
        b3.write_frame(b"deep").await.unwrap();
        assert_eq!(
            within(5, a3.read_frame()).await.unwrap().as_deref(),
            Some(&b"deep"[..])
        );
        // children never reach the peer's accept queue: the next top-level
        // channel, opened after them on the same connection, is what each
        // peer's accept returns
        for (from, to, to_name) in [(&c, &s, "server"), (&s, &c, "client")] {
            let _m = from.open(to_name, "marker", &[]).await.unwrap();
            let got = within(60, to.accept()).await.unwrap();
            assert_eq!(
                got.service(),
                "marker",
                "a child channel reached Peer::accept ({t:?})"
            );
        }
        // closing the parent fails accept on it
        a1.close().await.unwrap();
        assert_eq!(a1.accept().await.unwrap_err().kind(), ErrorKind::Closed);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_with_tcp_socket() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        // an echo TCP server that the server peer's channel is joined to
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = echo.accept().await.unwrap();
            let (mut r, mut w) = sock.split();
            tokio::io::copy(&mut r, &mut w).await.unwrap();
        });
        let (a, b) = open_pair(&c, &s, "server", "fwd", &[]).await;
        let joiner = tokio::spawn(async move {
            let sock = tokio::net::TcpStream::connect(echo_addr).await.unwrap();
            b.join(sock).await
        });
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let a2 = a.clone();
        let d2 = data.clone();
        let w = tokio::spawn(async move {
            a2.write(&d2).await.unwrap();
            a2.close_write().await.unwrap();
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = within(20, a.read(&mut buf)).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        w.await.unwrap();
        assert_eq!(got.len(), data.len(), "{t:?}");
        assert!(got == data, "{t:?}");
        within(10, joiner).await.unwrap().unwrap();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_does_not_block_other_channels() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, _b_stalled) = open_pair(&c, &s, "server", "stalled", &[]).await;
        let (x, y) = open_pair(&c, &s, "server", "live", &[]).await;
        // fill the stalled channel's window: its reader never reads, so no
        // credit comes back and it stays full for the rest of the test
        let mut queued = 0usize;
        while a.try_write_frame(&[1u8; 1024]).unwrap() {
            queued += 1;
            assert!(queued < 1 << 20, "the window never filled ({t:?})");
        }
        assert!(queued > 0, "{t:?}");
        // and keep a large write blocked on it
        let a2 = a.clone();
        let _w = tokio::spawn(async move {
            let big = vec![1u8; 1 << 20];
            loop {
                if a2.write(&big).await.is_err() {
                    break;
                }
            }
        });
        // the live channel on the same connection still carries every frame
        // (a channel blocked behind the stalled one would hang here; the
        // timeout is only a liveness bound)
        for i in 0..20u32 {
            x.write_frame(&i.to_be_bytes()).await.unwrap();
            let f = within(60, y.read_frame()).await.unwrap().unwrap();
            assert_eq!(&f[..], &i.to_be_bytes());
        }
        assert!(
            !a.try_write_frame(&[1u8; 1024]).unwrap(),
            "the stalled channel got credit although nothing read it ({t:?})"
        );
        // new channels can still be opened on the connection
        let (p, q) = open_pair(&s, &c, "client", "new", &[]).await;
        p.write_frame(b"ok").await.unwrap();
        assert_eq!(
            within(5, q.read_frame()).await.unwrap().as_deref(),
            Some(&b"ok"[..])
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_channels_each_way_16mib_both_directions() {
    let (s, c, _) = pair(Transport::Tcp).await;
    const N: usize = 50;
    const SIZE: usize = 16 << 20;
    let mut pairs = Vec::new();
    for _ in 0..N {
        pairs.push(open_pair(&c, &s, "server", "c2s", &[]).await);
        pairs.push(open_pair(&s, &c, "client", "s2c", &[]).await);
    }
    let mut tasks = Vec::new();
    for (x, y) in pairs {
        for (w, r) in [(x.clone(), y.clone()), (y, x)] {
            tasks.push(tokio::spawn(async move {
                let chunk = bytes::Bytes::from(vec![3u8; 256 * 1024]);
                for _ in 0..SIZE / chunk.len() {
                    w.write_bytes(chunk.clone()).await.unwrap();
                }
                w.close_write().await.unwrap();
            }));
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let mut total = 0;
                loop {
                    let n = r.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                assert_eq!(total, SIZE);
            }));
        }
    }
    let all = futures_join(tasks);
    tokio::time::timeout(Duration::from_secs(240), all)
        .await
        .expect("transfers stalled");
    s.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_is_a_protocol_error() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        s.set_option_int(PeerOption::MaxFrameSize, 1024).unwrap();
        // the limit applies to connections made after the change
        c.disconnect(&c_endpoint(&c)).await.ok();
        let ep2 = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep2).await.unwrap();
        let (a, b) = open_pair(&c, &s, "server", "x", &[]).await;
        let (ok_a, ok_b) = open_pair(&c, &s, "server", "y", &[]).await;
        a.write_frame(&vec![0u8; 1024]).await.unwrap();
        assert_eq!(
            within(5, b.read_frame()).await.unwrap().unwrap().len(),
            1024
        );
        // a 4 GiB length prefix: refused without allocating
        a.write(&u32::MAX.to_be_bytes()).await.unwrap();
        let e = within(5, b.read_frame()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{t:?}");
        assert!(e.to_string().contains("MAX_FRAME_SIZE"), "{e}");
        // the channel is closed for the writer too
        let e = within(60, async {
            loop {
                if let Err(e) = a.write(b"more").await {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(
            matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Closed),
            "{e}"
        );
        // other channels are unaffected
        ok_a.write_frame(b"fine").await.unwrap();
        assert_eq!(
            within(5, ok_b.read_frame()).await.unwrap().as_deref(),
            Some(&b"fine"[..])
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

fn c_endpoint(_c: &streamkit_core::Peer) -> String {
    String::from("tcp://127.0.0.1:1")
}

/// Regression: the accepting side echoes and closes while the opener closes
/// right after reading; the next OPEN on the reused SSH channel must never be
/// mistaken for traffic of the old channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_race_with_ssh_channel_reuse() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let srv = s.clone();
        tokio::spawn(async move {
            while let Ok(ch) = srv.accept().await {
                tokio::spawn(async move {
                    if let Ok(Some(f)) = ch.read_frame().await {
                        let _ = ch.write_frame(&f).await;
                    }
                    let _ = ch.close().await;
                });
            }
        });
        for i in 0..20_000u32 {
            let ch = c.open("server", "echo-close", &[]).await.unwrap();
            ch.write_frame(&i.to_be_bytes()).await.unwrap();
            let f = tokio::time::timeout(Duration::from_secs(60), ch.read_frame())
                .await
                .unwrap_or_else(|_| panic!("echo {i} never arrived ({t:?})"))
                .unwrap()
                .unwrap();
            assert_eq!(&f[..], &i.to_be_bytes());
            ch.close().await.unwrap();
        }
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

/// join ends when the remote closes the channel, even if the local socket
/// never sends EOF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_ends_when_remote_closes() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "fwd", &[]).await;
        let (mine, _theirs) = tokio::io::duplex(1024); // the other end never closes
        let j = tokio::spawn(async move { b.join(mine).await });
        a.write(b"some bytes").await.unwrap();
        a.close().await.unwrap();
        within(5, j).await.unwrap().unwrap();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

/// Small and large frames written concurrently from several tasks never
/// interleave: every frame arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_small_and_large_frames_stay_whole() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "mixed", &[]).await;
        let mut writers = Vec::new();
        for w in 0..4u8 {
            let a = a.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..200usize {
                    // sizes from tiny to several windows, content tagged by writer
                    let len = if i % 7 == 0 { 300_000 + i } else { i * 3 };
                    let frame = vec![w.wrapping_mul(31).wrapping_add(i as u8); len];
                    a.write_frame(&frame).await.unwrap();
                }
            }));
        }
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while n < 800 {
                let f = within(30, b.read_frame()).await.unwrap().unwrap();
                if let Some(&first) = f.first() {
                    assert!(
                        f.iter().all(|&x| x == first),
                        "a frame of {} bytes was interleaved",
                        f.len()
                    );
                }
                n += 1;
            }
        });
        for w in writers {
            within(60, w).await.unwrap();
        }
        within(60, reader).await.unwrap();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
