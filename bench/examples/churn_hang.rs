//! Repro for a streamkit-core hang seen in scenario 4 (channel churn):
//! open a channel, write one 64-byte frame, the accepting side echoes it and
//! closes, the opener reads the echo and closes; repeated sequentially over
//! one tcp connection. Now and then the opener's read_frame never returns.
//!
//!     cargo run --release -p streamkit-bench --example churn_hang [tcp|inproc] [ops]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use streamkit_core::{Peer, PeerOption};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .init();
    let kind = std::env::args().nth(1).unwrap_or_else(|| "tcp".into());
    let ops: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let s = Peer::new();
    let c = Peer::new();
    s.set_option_str(PeerOption::Name, "server").unwrap();
    c.set_option_str(PeerOption::Name, "client").unwrap();
    let keys = format!("{}\n{}\n", s.public_key().unwrap(), c.public_key().unwrap());
    s.set_option_str(PeerOption::AuthorizedKeys, &keys).unwrap();
    c.set_option_str(PeerOption::AuthorizedKeys, &keys).unwrap();
    let ep = if kind == "inproc" {
        "inproc://churn-hang".to_string()
    } else {
        "tcp://127.0.0.1:0".to_string()
    };
    let ep = s.bind(&ep).await.unwrap();
    c.connect(&ep).await.unwrap();
    // server-side progress counters
    let st: Arc<[AtomicU64; 4]> = Arc::new(Default::default()); // accepted, frame read, echo written, closed
    let last_id = Arc::new(AtomicU64::new(0));
    {
        let (s, st, last_id) = (s.clone(), st.clone(), last_id.clone());
        tokio::spawn(async move {
            while let Ok(ch) = s.accept().await {
                st[0].fetch_add(1, Relaxed);
                last_id.store(ch.id(), Relaxed);
                let st = st.clone();
                tokio::spawn(async move {
                    let f = ch.read_frame().await.unwrap().unwrap();
                    st[1].fetch_add(1, Relaxed);
                    ch.write_frame(&f).await.unwrap();
                    st[2].fetch_add(1, Relaxed);
                    ch.close().await.unwrap();
                    st[3].fetch_add(1, Relaxed);
                });
            }
        });
    }
    for i in 0..ops {
        let ch = c.open("server", "churn", &[]).await.unwrap();
        ch.write_frame(&[7u8; 64]).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(5), ch.read_frame()).await {
            Ok(r) => assert_eq!(r.unwrap().unwrap().as_ref(), &[7u8; 64]),
            Err(_) => {
                println!(
                    "HANG at op {i}: client channel id {} read_frame pending 5 s; server accepted {} (last id {}), read {}, echoed {}, closed {}; is_closed={}",
                    ch.id(),
                    st[0].load(Relaxed),
                    last_id.load(Relaxed),
                    st[1].load(Relaxed),
                    st[2].load(Relaxed),
                    st[3].load(Relaxed),
                    ch.is_closed()
                );
                std::process::exit(1);
            }
        }
        ch.close().await.unwrap();
    }
    println!("{ops} ops over {kind}: no hang");
}
