//! `Channel::try_write_frame` / `try_write_error`: all or nothing, never waits.

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
        assert_eq!(queued, 4096 / 104, "{t:?}: queued {queued} frames into a 4096-byte window");
        // a frame over a quarter of the remote window always declines (write_frame's waiting path)
        assert!(!a.try_write_frame(&[0u8; 2000]).unwrap());
        // the error stream has its own credit: an error frame still fits
        assert!(a.try_write_error(b"err").unwrap());
        // every queued frame arrives whole and in order; then there is room again
        for i in 0..queued {
            let f = within(10, b.read_frame()).await.unwrap().unwrap();
            assert_eq!(&f[..], &[i as u8; 100][..], "{t:?}: frame {i}");
        }
        assert_eq!(&within(10, b.read_error()).await.unwrap().unwrap()[..], b"err");
        let mut ok = false;
        for _ in 0..500 {
            if a.try_write_frame(b"again").unwrap() {
                ok = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(ok, "{t:?}: credit never came back");
        assert_eq!(&within(10, b.read_frame()).await.unwrap().unwrap()[..], b"again");

        // errors as write_frame
        a.close().await.unwrap();
        let e = a.try_write_frame(b"x").unwrap_err();
        assert!(e.to_string().contains("closed"), "{t:?}: {e}");
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
