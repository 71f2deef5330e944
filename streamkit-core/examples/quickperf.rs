//! Rough one-process figures for development: `cargo run --release -p streamkit-core --example quickperf`
//! (`SK_WIN=bytes` / `SK_BUDGET=bytes` set CHANNEL_WINDOW / WINDOW_BUDGET on both peers, for A/B runs).
//! The real benchmark (with baselines) is `streamkit-bench`.
use std::time::Instant;
use streamkit_core::{Peer, PeerOption};

async fn pair(ep: &str) -> (Peer, Peer) {
    let s = Peer::new();
    s.set_option_str(PeerOption::Name, "s").unwrap();
    let c = Peer::new();
    c.set_option_str(PeerOption::Name, "c").unwrap();
    for (var, opt) in [
        ("SK_WIN", PeerOption::ChannelWindow),
        ("SK_BUDGET", PeerOption::WindowBudget),
    ] {
        if let Some(w) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
            s.set_option_int(opt, w).unwrap();
            c.set_option_int(opt, w).unwrap();
        }
    }
    let keys = format!("{}\n{}\n", s.public_key().unwrap(), c.public_key().unwrap());
    s.set_option_str(PeerOption::AuthorizedKeys, &keys).unwrap();
    c.set_option_str(PeerOption::AuthorizedKeys, &keys).unwrap();
    let ep = s.bind(ep).await.unwrap();
    c.connect(&ep).await.unwrap();
    (s, c)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for ep in ["tcp://127.0.0.1:0", "inproc://quickperf"] {
        let (s, c) = pair(ep).await;
        let a = c.open("s", "bulk", &[]).await.unwrap();
        let b = s.accept().await.unwrap();
        let total: usize = 1 << 30;
        let t0 = Instant::now();
        let w = tokio::spawn({
            let a = a.clone();
            async move {
                let chunk = bytes::Bytes::from(vec![1u8; 65536]);
                let mut n = 0;
                while n < total {
                    a.write_bytes(chunk.clone()).await.unwrap();
                    n += 65536;
                }
            }
        });
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        while got < total {
            got += b.read(&mut buf).await.unwrap();
        }
        w.await.unwrap();
        let dt = t0.elapsed().as_secs_f64();
        println!("{ep}: bulk {:.0} MB/s", total as f64 / dt / 1e6);

        let n = 300_000;
        let t0 = Instant::now();
        let w = tokio::spawn({
            let a = a.clone();
            async move {
                let f = [0u8; 64];
                for _ in 0..n {
                    a.write_frame(&f).await.unwrap();
                }
            }
        });
        for _ in 0..n {
            b.read_frame().await.unwrap().unwrap();
        }
        w.await.unwrap();
        println!(
            "{ep}: 64-byte frames {:.0}/s",
            n as f64 / t0.elapsed().as_secs_f64()
        );

        let mut lat = Vec::new();
        let echo = tokio::spawn({
            let b = b.clone();
            async move {
                while let Ok(Some(f)) = b.read_frame().await {
                    if b.write_frame(&f).await.is_err() {
                        break;
                    }
                }
            }
        });
        for _ in 0..5000 {
            let t = Instant::now();
            a.write_frame(&[0u8; 64]).await.unwrap();
            a.read_frame().await.unwrap().unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
        println!(
            "{ep}: rtt p50 {:.1} us p99 {:.1} us",
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100]
        );
        // The same with the measuring side as a task on the runtime (as in
        // a tokio application) rather than on the main thread.
        let a2 = a.clone();
        let mut lat = tokio::spawn(async move {
            let mut lat = Vec::new();
            for _ in 0..5000 {
                let t = Instant::now();
                a2.write_frame(&[0u8; 64]).await.unwrap();
                a2.read_frame().await.unwrap().unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            lat
        })
        .await
        .unwrap();
        lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
        println!(
            "{ep}: rtt (measured in a task) p50 {:.1} us p99 {:.1} us",
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100]
        );
        a.close().await.unwrap();
        echo.abort();
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
