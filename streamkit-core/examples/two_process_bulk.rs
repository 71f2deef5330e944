//! Bulk throughput between two processes over tcp loopback: this program
//! starts a copy of itself as the receiver, connects to it and sends MiB
//! (default 1024) in 64 KiB writes on one channel. The receiver checks the
//! byte count and prints MB/s and both processes' CPU seconds.
//!
//! ```sh
//! cargo run --release -p streamkit-core --example two_process_bulk [MiB]
//! ```
//!
//! streamkit-bench measures bulk with both peers in one process; this is the
//! shape every binding's benchmark has (one process per side), for profiling
//! the core alone that way (`perf record` either process).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;
use streamkit_core::{generate_key, Peer, PeerOption};

const WRITE: usize = 64 * 1024;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (fields 14 and 15).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--recv") {
        return recv(args.get(2).and_then(|v| v.parse().ok()).unwrap_or(0)).await;
    }
    let mib: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1024);
    let total = mib << 20;
    let key = generate_key();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--recv", &total.to_string()])
        .env("SK_EXAMPLE_KEY", &key)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no child stdout")?);
    let mut endpoint = String::new();
    out.read_line(&mut endpoint)?;

    let peer = Peer::new();
    peer.set_option_str(PeerOption::Name, "send")?;
    peer.set_option_str(PeerOption::PrivateKey, &key)?; // same key: the peers trust each other
    peer.connect(endpoint.trim()).await?;
    let ch = peer.open("recv", "bulk", &[]).await?;
    let chunk = vec![0x5au8; WRITE];
    let cpu0 = cpu_seconds();
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(WRITE as u64) as usize;
        ch.write(&chunk[..n]).await?;
        sent += n as u64;
    }
    ch.close_write().await?;
    let _ = ch.read_frame().await; // until the receiver closes
    let send_cpu = cpu_seconds() - cpu0;
    let mut line = String::new();
    out.read_line(&mut line)?;
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("receiver failed: {status}").into());
    }
    println!("{} sender CPU s {send_cpu:.2}", line.trim());
    peer.shutdown().await?;
    Ok(())
}

async fn recv(total: u64) -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("SK_EXAMPLE_KEY")?;
    let peer = Peer::new();
    peer.set_option_str(PeerOption::Name, "recv")?;
    peer.set_option_str(PeerOption::PrivateKey, &key)?;
    println!("{}", peer.bind("tcp://127.0.0.1:0").await?);
    let ch = peer.accept().await?;
    let mut buf = vec![0u8; 256 * 1024];
    let expected = vec![0x5au8; buf.len()];
    let mut got = 0u64;
    let (mut t0, mut cpu0) = (Instant::now(), cpu_seconds());
    loop {
        let n = ch.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if got == 0 {
            // Time from the first bytes: connection setup is not counted.
            (t0, cpu0) = (Instant::now(), cpu_seconds());
        }
        if buf[..n] != expected[..n] {
            return Err("received a wrong byte".into());
        }
        got += n as u64;
    }
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    ch.close().await?;
    if got != total {
        return Err(format!("received {got} bytes of {total}").into());
    }
    println!("{:.0} MB/s, receiver CPU s {cpu:.2}", got as f64 / dt / 1e6);
    peer.shutdown().await?;
    Ok(())
}
