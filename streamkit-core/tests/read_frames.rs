//! `Channel::read_frames` (whole frames as stream records) and `Channel::unread`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_frames_batches_whole_frames_and_unread_gives_bytes_back() {
    for t in ALL {
        let s = peer("server");
        let c = peer("client");
        trust_all(&[&s, &c]);
        let ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        let (a, b) = open_pair(&c, &s, "server", "frames", &[]).await;

        a.write_frame(b"a").await.unwrap();
        a.write_frame(b"").await.unwrap();
        a.write_frame(b"bc").await.unwrap();
        a.write_frame(&[7u8; 100]).await.unwrap();
        let want: &[u8] = &[0, 0, 0, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 2, b'b', b'c'];
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < want.len() {
            let n = within(10, b.read_frames(&mut buf, usize::MAX))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "{t:?}");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, want, "{t:?}");
        // longer than buf: nothing read, read_frame returns it
        assert_eq!(
            within(10, b.read_frames(&mut buf, usize::MAX))
                .await
                .unwrap(),
            Some(0),
            "{t:?}"
        );
        assert_eq!(
            &within(10, b.read_frame()).await.unwrap().unwrap()[..],
            &[7u8; 100][..]
        );

        // max_frames, then bytes given back come first for every kind of read
        b.unread(want);
        assert_eq!(
            within(10, b.read_frames(&mut buf, 1)).await.unwrap(),
            Some(5),
            "{t:?}"
        );
        assert_eq!(&buf[..5], &want[..5]);
        assert_eq!(&within(10, b.read_frame()).await.unwrap().unwrap()[..], b"");
        let mut two = [0u8; 2];
        assert_eq!(within(10, b.read(&mut two)).await.unwrap(), 2);
        assert_eq!(two, [0, 0]);
        b.unread(&two);
        assert_eq!(
            &within(10, b.read_frame()).await.unwrap().unwrap()[..],
            b"bc"
        );

        // a clean end of stream
        a.close_write().await.unwrap();
        assert_eq!(
            within(10, b.read_frames(&mut buf, usize::MAX))
                .await
                .unwrap(),
            None,
            "{t:?}"
        );
        // closed locally: an error, and unread does nothing
        b.close().await.unwrap();
        b.unread(b"x");
        assert!(
            within(10, b.read_frames(&mut buf, usize::MAX))
                .await
                .is_err(),
            "{t:?}"
        );
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

/// `read_frame_vec` returns what `read_frame` would, in stream order with it:
/// frames of every size (including ones larger than half the window, which
/// are assembled piece by piece), and enough of them to need credit many
/// times over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_frame_vec_matches_read_frame() {
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "frames", &[]).await;
        let sizes: Vec<usize> = (0..4000)
            .map(|i| [0, 1, 63, 64, 1000, 4096][i % 6])
            .chain([300_000, 1 << 20, 5])
            .collect();
        let frame =
            |i: usize, n: usize| -> Vec<u8> { (0..n).map(|k| (i * 31 + k) as u8).collect() };
        let w = {
            let sizes = sizes.clone();
            tokio::spawn(async move {
                for (i, &n) in sizes.iter().enumerate() {
                    a.write_frame(&frame(i, n)).await.unwrap();
                }
                a.close_write().await.unwrap();
                a
            })
        };
        for (i, &n) in sizes.iter().enumerate() {
            let got = if i % 3 == 0 {
                within(30, b.read_frame())
                    .await
                    .unwrap()
                    .map(|f| f.to_vec())
            } else {
                within(30, b.read_frame_vec()).await.unwrap()
            };
            assert_eq!(
                got.as_deref(),
                Some(&frame(i, n)[..]),
                "{t:?}: frame {i} of {n} bytes"
            );
        }
        assert_eq!(within(10, b.read_frame_vec()).await.unwrap(), None, "{t:?}");
        let _a = w.await.unwrap();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
