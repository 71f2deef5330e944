//! Trailers are bounded over a channel's life (PROTOCOL.md 11.1): the sender
//! refuses past 4096 trailers or 512 KiB in all, and what was sent arrives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::ErrorKind;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_are_bounded_over_the_channels_life() {
    for t in ALL {
        let (s, c, _ep) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "trailers", &[]).await;
        let big = vec!["k=".to_string() + &"x".repeat(100 * 1024); 3]; // ~300 KiB
        a.write_trailers(&big).await.unwrap();
        // a second 300 KiB would pass the 512 KiB the receiver keeps
        let e = a.write_trailers(&big).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{t:?}: {e}");
        assert!(e.to_string().contains("512 KiB"), "{e}");
        // small ones still fit, and the count limit holds as well
        a.write_trailers(&["done=1".to_string()]).await.unwrap();
        let many = vec!["n".to_string(); 4096];
        assert_eq!(
            a.write_trailers(&many).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        a.close_write().await.unwrap();
        assert_eq!(within(30, b.read_frame()).await.unwrap(), None);
        let got = b.trailers();
        assert_eq!(got.len(), 4, "{t:?}");
        assert_eq!(got[3], "done=1");
        assert!(got[..3].iter().all(|x| x.len() == 100 * 1024 + 2));
        c.shutdown().await.unwrap();
        s.shutdown().await.unwrap();
    }
}
