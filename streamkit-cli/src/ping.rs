//! `streamkit ping`: connect, report the handshake time and the server's
//! name and key, then time round trips through a channel (like `ssh -v`
//! and `ping` together).

use crate::common::{self, ClientArgs};
use anyhow::Result;
use clap::Args;
use std::time::{Duration, Instant};
use streamkit_core::{ErrorKind, EventKind};

const EXAMPLES: &str = "\
Each round trip writes one frame of 8 bytes on a channel opened to SERVICE
(default echo) and waits for it to come back, so the server must echo that
service (`streamkit serve ... --service echo=echo`).

Exit code: 0 when every round trip came back; 252 if the server refused the
service or did not echo; 253 if either side refused the other's key; 254 if
it could not connect; 251 if the connection was lost; 2 for a bad command line.

Examples:
  streamkit ping tcp://127.0.0.1:7000 -k client.key -a server.pub
  streamkit ping -c 10 -i 200 unix:///run/app.sock";

/// Connect to a server and time the handshake and round trips through it.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct PingArgs {
    /// The server: tcp://HOST:PORT or unix:///path.
    pub endpoint: String,

    /// Number of round trips.
    #[arg(short = 'c', long = "count", default_value_t = 4, value_name = "COUNT")]
    pub count: u32,

    /// Milliseconds to wait between round trips.
    #[arg(
        short = 'i',
        long = "interval",
        default_value_t = 1000,
        value_name = "MS"
    )]
    pub interval: u64,

    /// Milliseconds to wait for each reply before giving up.
    #[arg(
        short = 'W',
        long = "timeout",
        default_value_t = 5000,
        value_name = "MS"
    )]
    pub timeout: u64,

    /// The service that echoes the frames.
    #[arg(long, default_value = "echo", value_name = "SERVICE")]
    pub service: String,

    #[command(flatten)]
    pub log: common::LogArgs,

    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(a: PingArgs) -> u8 {
    match run_inner(a).await {
        Ok(code) => code,
        Err(e) => common::fail(&e, common::exit::STREAMKIT),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run_inner(a: PingArgs) -> Result<u8> {
    if a.count == 0 {
        return Err(common::usage("-c/--count must be at least 1"));
    }
    let peer = common::make_client(&a.client)?;
    let t0 = Instant::now();
    let remote = common::connect_logged(&peer, &a.endpoint, &a.client, a.log, false).await?;
    let handshake = t0.elapsed();
    // The connected event carries the server's key fingerprint; it is
    // queued before connect returns (the bound is liveness only).
    let mut fingerprint = None;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), peer.next_event()).await {
        if e.kind == EventKind::Connected {
            fingerprint = e.fingerprint;
            break;
        }
    }
    println!(
        "PING {} ({remote}, key {}): connected in {:.2} ms (TCP/socket, SSH key exchange, authentication, hello)",
        a.endpoint,
        fingerprint.as_deref().unwrap_or("unknown"),
        ms(handshake)
    );
    let refused = |what: String| common::coded(common::exit::REFUSED, what);
    let t1 = Instant::now();
    let ch = peer
        .open(&remote, &a.service, &[])
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Closed => refused(format!("cannot open service {:?}: {e}", a.service)),
            k => common::coded(
                common::kind_code(k),
                format!("cannot open service {:?}: {e}", a.service),
            ),
        })?;
    let open_time = t1.elapsed();
    println!("channel to {:?} open in {:.2} ms", a.service, ms(open_time));
    let mut times = Vec::new();
    for seq in 1..=a.count {
        if seq > 1 && a.interval > 0 {
            tokio::time::sleep(Duration::from_millis(a.interval)).await;
        }
        let payload = (seq as u64).to_be_bytes();
        let t = Instant::now();
        ch.write_frame(&payload)
            .await
            .map_err(|e| common::coded(common::exit::LOST, format!("round trip {seq}: {e}")))?;
        let reply = tokio::time::timeout(Duration::from_millis(a.timeout), ch.read_frame());
        let Ok(reply) = reply.await else {
            return Err(refused(format!(
                "round trip {seq}: no reply from service {:?} on {} within {} ms (-W MS); does it echo? (serve it with --service {}=echo)",
                a.service, a.endpoint, a.timeout, a.service
            )));
        };
        let back = match reply {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::Closed => {
                return Err(refused(format!(
                    "round trip {seq}: the channel to {:?} was closed: {e}",
                    a.service
                )))
            }
            Err(e) => {
                return Err(common::coded(
                    common::exit::LOST,
                    format!("round trip {seq}: {e}"),
                ))
            }
        };
        let dt = t.elapsed();
        match back {
            Some(b) if b[..] == payload[..] => {}
            _ => {
                let why = match ch.read_error().await {
                    Ok(Some(e)) => format!(": {}", String::from_utf8_lossy(&e)),
                    _ => String::new(),
                };
                return Err(refused(format!(
                    "round trip {seq}: service {:?} on {} did not echo the frame{why} (serve it with --service {}=echo)",
                    a.service, a.endpoint, a.service
                )));
            }
        }
        println!(
            "{} bytes from {remote}: seq={seq} time={:.3} ms",
            payload.len(),
            ms(dt)
        );
        times.push(ms(dt));
    }
    let _ = ch.close().await;
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let max = times.iter().copied().fold(0.0, f64::max);
    let avg = times.iter().sum::<f64>() / times.len() as f64;
    println!("--- {} ping statistics ---", a.endpoint);
    println!(
        "{} round trips, 0% lost; rtt min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms; handshake {:.2} ms",
        times.len(),
        ms(handshake)
    );
    let _ = peer.shutdown().await;
    Ok(0)
}
