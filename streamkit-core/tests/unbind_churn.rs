//! Regressions: unbind closes the socket under either spelling of the
//! endpoint; sequential channel churn never hangs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::ErrorKind;
use support::*;

async fn port_refuses(addr: &str) -> bool {
    matches!(
        tokio::net::TcpStream::connect(addr).await,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbind_by_requested_spelling_closes_the_socket() {
    let (s, c, ep) = pair(Transport::Tcp).await;
    let addr = ep.strip_prefix("tcp://").unwrap().to_string();
    // the socket accepts before unbind
    drop(tokio::net::TcpStream::connect(&addr).await.unwrap());
    s.unbind("tcp://127.0.0.1:0").await.unwrap();
    assert!(
        port_refuses(&addr).await,
        "{addr} still accepts after unbind"
    );
    // the established connection is not affected by unbind
    assert_knows(&s, "client");
    // both spellings are gone now
    for e in ["tcp://127.0.0.1:0", ep.as_str()] {
        let err = s.unbind(e).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{e}: {err}");
    }
    // unbind by the bound spelling also works, and forgets the alias
    let ep2 = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let addr2 = ep2.strip_prefix("tcp://").unwrap().to_string();
    s.unbind(&ep2).await.unwrap();
    assert!(
        port_refuses(&addr2).await,
        "{addr2} still accepts after unbind"
    );
    assert_eq!(
        s.unbind("tcp://127.0.0.1:0").await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    c.shutdown().await.unwrap();
    s.shutdown().await.unwrap();
}

/// Scenario 4's shape, which once hung now and then: open, write one 64-byte
/// frame, the acceptor echoes and closes, the opener reads and closes;
/// sequentially on one connection. Each operation has a liveness bound only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_channel_churn_never_hangs() {
    for t in [Transport::Tcp, Transport::Inproc] {
        let (s, c, _ep) = pair(t).await;
        let server = {
            let s = s.clone();
            tokio::spawn(async move {
                let mut n = 0u32;
                while let Ok(ch) = s.accept().await {
                    let f = ch.read_frame().await.unwrap().unwrap();
                    ch.write_frame(&f).await.unwrap();
                    ch.close().await.unwrap();
                    n += 1;
                }
                n
            })
        };
        const OPS: u32 = 2000;
        for i in 0..OPS {
            let msg = [i as u8; 64];
            let ch = within(30, c.open("server", "churn", &[])).await.unwrap();
            within(30, ch.write_frame(&msg)).await.unwrap();
            let got = within(30, ch.read_frame())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{t:?} op {i}: end of stream before the echo"));
            assert_eq!(&got[..], &msg[..], "{t:?} op {i}");
            within(30, ch.close()).await.unwrap();
        }
        c.shutdown().await.unwrap();
        s.shutdown().await.unwrap();
        let served = within(30, server).await.unwrap();
        assert_eq!(served, OPS, "{t:?}");
    }
}
