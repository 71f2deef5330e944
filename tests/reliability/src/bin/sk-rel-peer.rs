//! A small streamkit peer process that the reliability tests spawn, so that a
//! peer can be SIGKILLed, restarted, or run inside a network namespace.
//!
//! ```text
//! Usage: sk-rel-peer --name N --key FILE --auth FILE [--known-hosts FILE]
//!                    [--opt NAME=INT]... (--bind EP | --connect EP)
//! ```
//!
//! Prints `READY <endpoint>` once bound or connected, then reads commands on
//! stdin (one per line) and answers on stdout:
//!
//! ```text
//!   peers                 -> PEERS <name,name,...>
//!   bulk PEER BYTES       -> opens service "bulk" and writes BYTES bytes in the
//!                            background; prints `BULK done` or
//!                            `BULK err <kind> <unix_ms> <bytes_written>`
//!   pull PEER             -> opens service "source" and reads until EOF/error:
//!                            `PULL eof <bytes>` / `PULL err <kind> <unix_ms> <bytes>`
//!   echo PEER             -> opens service "echo", round-trips one frame:
//!                            `ECHO ok` / `ECHO err <error>`
//!   hold PEER SERVICE     -> opens SERVICE and never reads it: `HOLD opened`
//!   rss                   -> RSS <kib> FDS <n> THREADS <n>
//!   quit                  -> exits
//! ```
//!
//! Incoming channels are served by service name:
//!   "bulk"   read until EOF/error: `SINK eof <bytes>` / `SINK err <kind> <unix_ms> <bytes>`;
//!            prints `SINK progress <bytes>` every 16 MiB
//!   "source" write zeros forever (until error): `SOURCE err <kind> <unix_ms> <bytes>`
//!   "echo"   echo frames until EOF
//!   "hold"   keep the channel open, never read
//!   anything else: close.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fixture: abort loudly

use std::io::{BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use streamkit_core::{Channel, Peer, PeerOption};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn say(s: String) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{s}");
    let _ = o.flush();
}

fn opt_by_name(n: &str) -> PeerOption {
    PeerOption::ALL
        .iter()
        .copied()
        .find(|o| o.name() == n)
        .unwrap_or_else(|| panic!("unknown option {n}"))
}

async fn serve(ch: Channel) {
    match ch.service() {
        "bulk" => {
            let mut buf = vec![0u8; 256 * 1024];
            let mut total: u64 = 0;
            let mut next_report = 16u64 << 20;
            loop {
                match ch.read(&mut buf).await {
                    Ok(0) => {
                        say(format!("SINK eof {total}"));
                        return;
                    }
                    Ok(n) => {
                        total += n as u64;
                        if total >= next_report {
                            say(format!("SINK progress {total}"));
                            next_report += 16 << 20;
                        }
                    }
                    Err(e) => {
                        say(format!("SINK err {:?} {} {total} {e}", e.kind(), now_ms()));
                        return;
                    }
                }
            }
        }
        "source" => {
            let buf = bytes::Bytes::from(vec![0u8; 64 * 1024]);
            let mut total: u64 = 0;
            loop {
                if let Err(e) = ch.write_bytes(buf.clone()).await {
                    say(format!(
                        "SOURCE err {:?} {} {total} {e}",
                        e.kind(),
                        now_ms()
                    ));
                    return;
                }
                total += buf.len() as u64;
            }
        }
        "echo" => loop {
            match ch.read_frame().await {
                Ok(Some(f)) => {
                    if ch.write_frame(&f).await.is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = ch.close().await;
                    return;
                }
            }
        },
        "hold" => {
            // keep the handle (never read) until the channel fails or the remote closes it
            let _ = ch.accept().await;
        }
        _ => {
            let _ = ch.close().await;
        }
    }
}

fn proc_stats() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("0")
            .to_string()
    };
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    format!(
        "RSS {} FDS {fds} THREADS {}",
        field("VmRSS:"),
        field("Threads:")
    )
}

async fn command(p: Peer, line: String) {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["peers"] => say(format!("PEERS {}", p.peers().join(","))),
        ["rss"] => say(proc_stats()),
        ["bulk", peer, n] => {
            let n: u64 = n.parse().expect("bytes");
            let ch = match p.open(peer, "bulk", &[]).await {
                Ok(c) => c,
                Err(e) => return say(format!("BULK err {:?} {} 0 {e}", e.kind(), now_ms())),
            };
            say("BULK opened".into());
            let buf = bytes::Bytes::from(vec![7u8; 64 * 1024]);
            let mut sent = 0u64;
            while sent < n {
                let k = (n - sent).min(buf.len() as u64) as usize;
                if let Err(e) = ch.write_bytes(buf.slice(..k)).await {
                    return say(format!("BULK err {:?} {} {sent} {e}", e.kind(), now_ms()));
                }
                sent += k as u64;
            }
            let _ = ch.close_write().await;
            say("BULK done".into());
            // keep the channel until the remote closes it
            let mut b = [0u8; 16];
            let _ = ch.read(&mut b).await;
        }
        ["pull", peer] => {
            let ch = match p.open(peer, "source", &[]).await {
                Ok(c) => c,
                Err(e) => return say(format!("PULL err {:?} {} 0 {e}", e.kind(), now_ms())),
            };
            say("PULL opened".into());
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                match ch.read(&mut buf).await {
                    Ok(0) => return say(format!("PULL eof {total}")),
                    Ok(n) => total += n as u64,
                    Err(e) => {
                        return say(format!("PULL err {:?} {} {total} {e}", e.kind(), now_ms()))
                    }
                }
            }
        }
        ["echo", peer] => {
            let r = async {
                let ch = p.open(peer, "echo", &[]).await?;
                ch.write_frame(b"ping").await?;
                let f = ch.read_frame().await?;
                ch.close().await?;
                Ok::<_, streamkit_core::Error>(f)
            };
            match tokio::time::timeout(std::time::Duration::from_secs(5), r).await {
                Ok(Ok(Some(f))) if &f[..] == b"ping" => say("ECHO ok".into()),
                Ok(Ok(f)) => say(format!("ECHO err wrong reply {f:?}")),
                Ok(Err(e)) => say(format!("ECHO err {e}")),
                Err(_) => say("ECHO err timeout".into()),
            }
        }
        ["hold", peer, service] => {
            // open a channel and never read it; keep it until the process dies
            match p.open(peer, service, &[]).await {
                Ok(ch) => {
                    say("HOLD opened".into());
                    let _ = ch.accept().await;
                    std::future::pending::<()>().await;
                }
                Err(e) => say(format!("HOLD err {e}")),
            }
        }
        ["quit"] => std::process::exit(0),
        _ => say(format!("UNKNOWN {line}")),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p = Peer::new();
    let mut bind = None;
    let mut connect = None;
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--name" => p.set_option_str(PeerOption::Name, &v).unwrap(),
            "--key" => p.set_option_str(PeerOption::PrivateKey, &v).unwrap(),
            "--auth" => p.set_option_str(PeerOption::AuthorizedKeys, &v).unwrap(),
            "--known-hosts" => p.set_option_str(PeerOption::KnownHosts, &v).unwrap(),
            "--opt" => {
                let (k, x) = v.split_once('=').expect("--opt NAME=INT");
                p.set_option_int(opt_by_name(k), x.parse().expect("int"))
                    .unwrap();
            }
            "--nofile" => {
                // a soft descriptor limit for this process (tests of EMFILE)
                let n: u64 = v.parse().expect("--nofile N");
                // SAFETY: getrlimit/setrlimit only read and write the struct.
                unsafe {
                    let mut r: libc::rlimit = std::mem::zeroed();
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
                    r.rlim_cur = n.min(r.rlim_max);
                    assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0, "setrlimit");
                }
            }
            "--bind" => bind = Some(v),
            "--connect" => connect = Some(v),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    if let Some(ep) = bind {
        match p.bind(&ep).await {
            Ok(b) => say(format!("READY {b}")),
            Err(e) => {
                say(format!("FAIL {e}"));
                std::process::exit(2);
            }
        }
    }
    if let Some(ep) = connect {
        match p.connect(&ep).await {
            Ok(()) => say(format!("READY {ep}")),
            Err(e) => {
                say(format!("FAIL {e}"));
                std::process::exit(2);
            }
        }
    }
    let acc = p.clone();
    tokio::spawn(async move {
        while let Ok(ch) = acc.accept().await {
            tokio::spawn(serve(ch));
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        tokio::spawn(command(p.clone(), line));
    }
    // stdin closed: the test is gone
    std::process::exit(0);
}
