//! Channel semantics, run over every transport.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::ErrorKind;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_bytes_errors_trailers_both_ways() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let headers = vec![
            "a=b,c".to_string(),
            "k = v=w".to_string(),
            "ключ=значение ✓".to_string(),
            String::new(),
        ];
        let (a, b) = open_pair(&c, &s, "server", "svc.name", &headers).await;
        assert_eq!(b.service(), "svc.name", "{t:?}");
        assert_eq!(b.headers(), &headers[..], "{t:?}");
        assert_eq!(b.remote_peer(), "client");
        assert_eq!(b.local_peer(), "server");
        assert_eq!(a.remote_peer(), "server");

        for size in [0usize, 1, 100, 70_000, 8 * 1024 * 1024] {
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let (w, r) = tokio::join!(a.write_frame(&payload), within(30, b.read_frame()));
            w.unwrap();
            assert_eq!(
                r.unwrap().unwrap().as_ref(),
                &payload[..],
                "{t:?} size {size}"
            );
        }
        // errors interleaved with data, other direction
        b.write(b"abc").await.unwrap();
        b.write_error(b"oops").await.unwrap();
        b.write(b"def").await.unwrap();
        b.write_error(b"again").await.unwrap();
        b.write_trailers(&["exit-status=3".into()]).await.unwrap();
        b.close_write().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        loop {
            let n = within(10, a.read(&mut buf)).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdef");
        assert_eq!(a.read_error().await.unwrap().as_deref(), Some(&b"oops"[..]));
        assert_eq!(
            a.read_error().await.unwrap().as_deref(),
            Some(&b"again"[..])
        );
        assert_eq!(a.read_error().await.unwrap(), None);
        assert_eq!(a.read_frame().await.unwrap(), None);
        assert_eq!(a.trailers(), vec!["exit-status=3".to_string()]);
        assert_eq!(a.meta().trailers, vec!["exit-status=3".to_string()]);
        // half-closed: the other direction still works
        a.write_frame(b"still open").await.unwrap();
        assert_eq!(
            within(10, b.read_frame()).await.unwrap().as_deref(),
            Some(&b"still open"[..])
        );
        let e = b.write(b"x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed, "{t:?}");
        a.close().await.unwrap();
        assert_eq!(within(10, b.read_frame()).await.unwrap(), None, "{t:?}");
        assert_eq!(a.read_frame().await.unwrap_err().kind(), ErrorKind::Closed);
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_opens_to_client() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&s, &c, "client", "reverse", &[]).await;
        a.write_frame(b"hello").await.unwrap();
        assert_eq!(
            within(10, b.read_frame()).await.unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        b.write_frame(b"back").await.unwrap();
        assert_eq!(
            within(10, a.read_frame()).await.unwrap().as_deref(),
            Some(&b"back"[..])
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

/// PROTOCOL.md 14.2: after the remote's FIN, losing the connection does not
/// turn the clean end into an error: the reader gets the data, then end of
/// stream, and the trailers; writes fail with a closed error. Without a FIN
/// the same loss is an error after the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fin_then_connection_loss_is_a_clean_end() {
    for t in [Transport::Tcp, Transport::Unix] {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "fin-loss", &[]).await;
        a.write(b"all of it").await.unwrap();
        a.write_trailers(&["done=1".to_string()]).await.unwrap();
        a.close_write().await.unwrap();
        b.write(b"half").await.unwrap(); // b has not half-closed
                                         // Everything (and the FIN) has arrived at b before the loss.
        eventually("b received the data and the FIN", || {
            b.stats().bytes_received == 9 && b.meta().trailers == ["done=1"]
        })
        .await;
        round_trip(&c, &s, "server").await;
        s.drop_peer("client").await.unwrap();
        eventually("the client saw the loss", || c.peers().is_empty()).await;
        // b (its remote half-closed): data, then a clean end.
        let mut buf = [0u8; 64];
        let n = within(30, b.read(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"all of it", "{t:?}");
        assert_eq!(
            within(30, b.read(&mut buf)).await.unwrap(),
            0,
            "{t:?}: clean end"
        );
        assert!(within(30, b.read_frame()).await.unwrap().is_none(), "{t:?}");
        assert!(within(30, b.read_error()).await.unwrap().is_none(), "{t:?}");
        assert_eq!(b.meta().trailers, ["done=1"]);
        let e = b.write(b"more").await.unwrap_err();
        assert_eq!(e.kind(), streamkit_core::ErrorKind::Closed, "{t:?}: {e}");
        // a (its remote never half-closed): the data, then an error.
        let n = within(30, a.read(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"half", "{t:?}");
        let e = within(30, a.read(&mut buf)).await.unwrap_err();
        assert_eq!(e.kind(), streamkit_core::ErrorKind::Closed, "{t:?}: {e}");
    }
}
