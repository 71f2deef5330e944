//! `Channel::try_write_frame` / `try_write_error`: all or nothing, never waits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

mod support;
use streamkit_core::PeerOption;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_write_frame_queues_until_the_window_is_full_then_declines() {
    for t in ALL {
        let s = peer("server");
        let c = peer("client");
        for p in [&s, &c] {
            p.set_option_int(PeerOption::ChannelWindow, 4096).unwrap();
            p.set_option_int(PeerOption::WindowBudget, 0).unwrap();
        }
        trust_all(&[&s, &c]);
        let ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        let (a, b) = open_pair(&c, &s, "server", "try", &[]).await;

        // 100-byte frames: 104 bytes of credit each, a 4096-byte window
        let mut queued = 0u32;
        while a.try_write_frame(&[queued as u8; 100]).unwrap() {
            queued += 1;
            assert!(queued < 1000, "{t:?}: try_write_frame never declined");
        }
        assert_eq!(
            queued,
            4096 / 104,
            "{t:?}: queued {queued} frames into a 4096-byte window"
        );
        // a frame over a quarter of the remote window always declines (write_frame's waiting path)
        assert!(!a.try_write_frame(&[0u8; 2000]).unwrap());
        // the error stream has its own credit: an error frame still fits
        assert!(a.try_write_error(b"err").unwrap());
        // every queued frame arrives whole and in order; then there is room again
        for i in 0..queued {
            let f = within(10, b.read_frame()).await.unwrap().unwrap();
            assert_eq!(&f[..], &[i as u8; 100][..], "{t:?}: frame {i}");
        }
        assert_eq!(
            &within(10, b.read_error()).await.unwrap().unwrap()[..],
            b"err"
        );
        let mut ok = false;
        for _ in 0..500 {
            if a.try_write_frame(b"again").unwrap() {
                ok = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(ok, "{t:?}: credit never came back");
        assert_eq!(
            &within(10, b.read_frame()).await.unwrap().unwrap()[..],
            b"again"
        );

        // errors as write_frame
        a.close().await.unwrap();
        let e = a.try_write_frame(b"x").unwrap_err();
        assert!(e.to_string().contains("closed"), "{t:?}: {e}");
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}

/// A writer on a thread outside the runtime, as the C ABI's and the Go
/// binding's callers are: the flusher it starts waits for it to add more
/// (`let_writer_add`, checking a counter instead of taking the channel's
/// lock). Small frames, large frames (queued as pieces) and the final
/// close_write still arrive whole, in order and promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_from_a_thread_outside_the_runtime_arrive_in_order() {
    const N: u32 = 20_000;
    fn frame(i: u32) -> Vec<u8> {
        let len = if i % 5000 == 4999 {
            20 * 1024
        } else {
            (i % 97) as usize
        };
        let mut f = vec![i as u8; len];
        if len >= 4 {
            f[..4].copy_from_slice(&i.to_le_bytes());
        }
        f
    }
    for t in ALL {
        let (s, c, _) = pair(t).await;
        let (a, b) = open_pair(&c, &s, "server", "foreign", &[]).await;
        let rt = tokio::runtime::Handle::current();
        let writer = std::thread::spawn(move || {
            assert!(tokio::runtime::Handle::try_current().is_err());
            for i in 0..N {
                let f = frame(i);
                if !a.try_write_frame(&f).unwrap() {
                    rt.block_on(a.write_frame(&f)).unwrap();
                }
            }
            rt.block_on(a.close_write()).unwrap();
            a
        });
        let start = std::time::Instant::now();
        for i in 0..N {
            let f = within(10, b.read_frame())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{t:?}: EOF before frame {i}"));
            assert_eq!(&f[..], &frame(i)[..], "{t:?}: frame {i}");
        }
        assert!(
            within(10, b.read_frame()).await.unwrap().is_none(),
            "{t:?}: EOF after the last frame"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{t:?}: took {:?}",
            start.elapsed()
        );
        let a = tokio::task::spawn_blocking(move || writer.join().unwrap())
            .await
            .unwrap();
        a.close().await.unwrap();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
