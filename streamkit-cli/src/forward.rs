//! `streamkit forward`: like `ssh -L`, each local TCP connection is carried
//! over its own channel to a service on the server.

use crate::common::{self, ClientArgs};
use crate::progress::{Counters, Progress};
use anyhow::{anyhow, Result};
use clap::Args;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use streamkit_core::Peer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const EXAMPLES: &str = "\
The local address actually bound is printed on stdout (one line), so port 0
works in scripts. A bare PORT means 127.0.0.1:PORT. Runs until Ctrl-C or
SIGTERM. The server side usually offers the service as forward:tcp://HOST:PORT.

Examples:
  # server: streamkit serve tcp://0.0.0.0:7000 --service web=forward:tcp://127.0.0.1:80
  streamkit forward 127.0.0.1:8080 tcp://server:7000 web -k client.key -a server.pub
  curl http://127.0.0.1:8080/";

/// Accept local TCP connections and carry each over its own channel (like ssh -L).
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ForwardArgs {
    /// Local TCP address to listen on: HOST:PORT, tcp://HOST:PORT or PORT.
    pub listen: String,

    /// The server: tcp://HOST:PORT or unix:///path.
    pub endpoint: String,

    /// The service to open on the server for each connection.
    pub service: String,

    /// Never draw a status line (it is drawn only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub log: common::LogArgs,

    /// Log errors only.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(a: ForwardArgs) -> u8 {
    match run_inner(a).await {
        Ok(()) => 0,
        Err(e) => common::fail(&e, common::exit::STREAMKIT),
    }
}

/// How long the start-up check waits for a server that does not know the
/// probe (any streamkit peer other than `streamkit serve`) before going on.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Ask the server once whether SERVICE exists, so a typo fails at start
/// instead of giving every client an empty reply. `streamkit serve` answers
/// the probe without running the service; a server that does not answer
/// within PROBE_WAIT is assumed to offer it.
async fn check_service(peer: &Peer, remote: &str, a: &ForwardArgs) -> Result<()> {
    let mut headers = a.client.headers.clone();
    headers.push(crate::serve::PROBE_HEADER.to_string());
    let ch = peer.open(remote, &a.service, &headers).await.map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot open service {:?}", a.service))
    })?;
    let _ = ch.close_write().await;
    let ended = tokio::time::timeout(PROBE_WAIT, async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = ch.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .is_ok();
    let trailers = ch.trailers();
    let _ = ch.close().await;
    for t in &trailers {
        if let Some(e) = t.strip_prefix("error=") {
            return Err(common::coded(
                common::exit::REFUSED,
                format!("{} refused service {:?}: {e}", a.endpoint, a.service),
            ));
        }
    }
    if !ended && a.log.verbose > 0 {
        eprintln!(
            "streamkit: {} did not answer the service check; assuming it offers {:?}",
            a.endpoint, a.service
        );
    }
    Ok(())
}

async fn run_inner(a: ForwardArgs) -> Result<()> {
    let listen = common::tcp_addr(&a.listen)?;
    let stop = common::terminated();
    tokio::pin!(stop);
    let peer = common::make_client(&a.client)?;
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let first = common::connect_logged(&peer, &a.endpoint, &a.client, a.log, a.quiet).await?;
    check_service(&peer, &first, &a).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{local}");
        let _ = out.flush();
    }
    eprintln!(
        "streamkit: forwarding {local} to service {:?} on {} ({first})",
        a.service, a.endpoint
    );

    let counters = Arc::new(Counters::default());
    let progress = Arc::new(Progress::start(
        "forward",
        !a.no_progress,
        counters.clone(),
        true,
    ));
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, from)) => {
                    let _ = tcp.set_nodelay(true);
                    counters.total.fetch_add(1, Ordering::Relaxed);
                    let peer = peer.clone();
                    let service = a.service.clone();
                    let headers = a.client.headers.clone();
                    let counters = counters.clone();
                    let progress = progress.clone();
                    let verbose = a.log.verbose > 0;
                    tokio::spawn(async move {
                        counters.active.fetch_add(1, Ordering::Relaxed);
                        if verbose {
                            progress.eprintln(&format!("streamkit: connection from {from}"));
                        }
                        if let Err(e) = carry(&peer, tcp, &service, &headers, counters.clone(), &progress).await {
                            progress.eprintln(&format!("streamkit: connection from {from}: {e:#}"));
                        } else if verbose {
                            progress.eprintln(&format!("streamkit: connection from {from} done"));
                        }
                        counters.active.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) => {
                    progress.eprintln(&format!("streamkit: accept failed: {e}"));
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = &mut stop => break,
        }
    }
    progress.finish();
    let _ = peer.shutdown().await;
    Ok(())
}

async fn carry(
    peer: &Peer,
    tcp: TcpStream,
    service: &str,
    headers: &[String],
    counters: Arc<Counters>,
    progress: &Arc<Progress>,
) -> Result<()> {
    let remote = peer
        .next_peer()
        .ok_or_else(|| anyhow!("not connected to the server (reconnecting); connection dropped"))?;
    let ch = peer
        .open(&remote, service, headers)
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot open service {service:?}")))?;
    let errs = {
        let ch = ch.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            while let Ok(Some(b)) = ch.read_error().await {
                let s = String::from_utf8_lossy(&b);
                progress.eprintln(&format!(
                    "streamkit: {}",
                    s.strip_suffix('\n').unwrap_or(&s)
                ));
            }
        })
    };
    let r = ch
        .join(Counted {
            inner: tcp,
            counters,
        })
        .await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), errs).await;
    for t in ch.trailers() {
        if let Some(e) = t.strip_prefix("error=") {
            return Err(common::coded(
                common::exit::REFUSED,
                format!("the server refused: {e}"),
            ));
        }
    }
    r.map_err(|e| anyhow::Error::new(e).context("channel failed"))
}

/// A TCP stream that counts bytes for the status line.
struct Counted {
    inner: TcpStream,
    counters: Arc<Counters>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.counters.add_sent(n);
        }
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r {
            self.counters.add_received(*n);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
