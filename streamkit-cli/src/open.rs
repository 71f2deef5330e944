//! `streamkit open`: connect, open one channel, pipe stdin/stdout through it.

use crate::common::{self, ClientArgs};
use crate::progress::{Counters, Progress};
use anyhow::{anyhow, Result};
use clap::Args;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use streamkit_core::{Channel, ErrorKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const EXAMPLES: &str = "\
Stdin goes to the channel (end of stdin closes the channel for writing) and
the channel's data goes to stdout. Error frames from the service are printed
on stderr, and so are the trailers it sends before closing.

Exit code: N if the service sent the trailer exit-status=N; 1 if it sent error
frames or an error=... trailer without an exit status; 255 if streamkit itself
failed (cannot connect, key not trusted, connection lost); 141 if stdout was
closed by its reader (`| head`); 0 otherwise.

Examples:
  echo hello | streamkit open tcp://127.0.0.1:7000 echo -k client.key -a server.pub
  streamkit open tcp://127.0.0.1:7000 sh -H LANG=C < script.sh
  streamkit open tcp://127.0.0.1:7000 upload < big.iso     # progress on a terminal
  printf 'one\\ntwo\\n' | streamkit open --frames tcp://127.0.0.1:7000 echo";

/// Open a channel to a service and pipe stdin/stdout through it (like ncat).
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct OpenArgs {
    /// The server: tcp://HOST:PORT or unix:///path.
    pub endpoint: String,

    /// The service to open on the server.
    pub service: String,

    /// Frame mode: each stdin line is sent as one frame (without its newline)
    /// and each frame received is printed as one line.
    #[arg(long)]
    pub frames: bool,

    /// Never draw a progress line (it is drawn only when stderr is a terminal
    /// and stdout is not).
    #[arg(long)]
    pub no_progress: bool,

    /// Do not print trailers on stderr, and log errors only.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub log: common::LogArgs,

    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(a: OpenArgs) -> u8 {
    match run_inner(a).await {
        Ok(code) => code,
        Err(e) => common::fail(&e, common::exit::STREAMKIT),
    }
}

/// Outcome of the upload side.
enum Up {
    Done,
    RemoteClosed,
    Failed(anyhow::Error),
}

async fn upload(ch: Channel, frames: bool, counters: Arc<Counters>) -> Up {
    let mut stdin = tokio::io::stdin();
    let res: Result<Up> = async {
        if frames {
            let mut r = BufReader::new(stdin);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = r
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(|e| anyhow!("cannot read stdin: {e}"))?;
                if n == 0 {
                    break;
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if let Err(e) = ch.write_frame(&line).await {
                    return Ok(closed_or(e));
                }
                counters.add_sent(n);
            }
        } else {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdin
                    .read(&mut buf)
                    .await
                    .map_err(|e| anyhow!("cannot read stdin: {e}"))?;
                if n == 0 {
                    break;
                }
                if let Err(e) = ch.write(&buf[..n]).await {
                    return Ok(closed_or(e));
                }
                counters.add_sent(n);
            }
        }
        match ch.close_write().await {
            Ok(()) => Ok(Up::Done),
            Err(e) => Ok(closed_or(e)),
        }
    }
    .await;
    res.unwrap_or_else(Up::Failed)
}

fn closed_or(e: streamkit_core::Error) -> Up {
    if e.kind() == ErrorKind::Closed {
        // The service stopped reading (e.g. the command exited): not our failure.
        Up::RemoteClosed
    } else {
        Up::Failed(anyhow::Error::new(e).context("sending to the channel failed"))
    }
}

/// Exit code when stdout's reader went away, as if killed by SIGPIPE.
const EXIT_SIGPIPE: u8 = 141;

/// Stdout was closed by its reader.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        anyhow::Error::new(StdoutClosed)
    } else {
        anyhow!("cannot write to stdout: {e}")
    }
}

async fn download(ch: &Channel, frames: bool, counters: &Counters) -> Result<()> {
    let mut out = tokio::io::stdout();
    if frames {
        loop {
            match ch.read_frame().await {
                Ok(Some(f)) => {
                    counters.add_received(f.len() + 4);
                    let mut line = Vec::with_capacity(f.len() + 1);
                    line.extend_from_slice(&f);
                    line.push(b'\n');
                    out.write_all(&line).await.map_err(stdout_error)?;
                    out.flush().await.map_err(stdout_error)?;
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(anyhow::Error::new(e).context("receiving from the channel failed"))
                }
            }
        }
    } else {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match ch.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    counters.add_received(n);
                    out.write_all(&buf[..n]).await.map_err(stdout_error)?;
                    // Stdout is line-buffered: without this a reply with no
                    // newline would wait for more output.
                    out.flush().await.map_err(stdout_error)?;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context("receiving from the channel failed"))
                }
            }
        }
    }
    out.flush().await.map_err(stdout_error)?;
    Ok(())
}

/// The size of stdin when it is a regular file (`open ... < file`).
#[cfg(unix)]
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let m = std::fs::File::from(fd).metadata().ok()?;
    m.is_file().then_some(m.len())
}

#[cfg(not(unix))]
fn stdin_size() -> Option<u64> {
    None
}

/// Print one error frame on stderr as a line.
fn error_line(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

async fn run_inner(a: OpenArgs) -> Result<u8> {
    let peer = common::make_client(&a.client)?;
    let remote = common::connect_logged(&peer, &a.endpoint, &a.client, a.log, a.quiet).await?;
    let ch = peer
        .open(&remote, &a.service, &a.client.headers)
        .await
        .map_err(|e| {
            let code = match e.kind() {
                ErrorKind::Closed => common::exit::REFUSED,
                kind => common::kind_code(kind),
            };
            common::coded(
                code,
                format!(
                    "cannot open service {:?} on {} ({remote}): {e}",
                    a.service, a.endpoint
                ),
            )
        })?;

    let counters = Arc::new(Counters::default());
    let show = !a.no_progress && !std::io::stdout().is_terminal();
    if !a.frames {
        if let Some(size) = stdin_size() {
            counters.upload_size.store(size, Ordering::Relaxed);
        }
    }
    let progress = Arc::new(Progress::start(&a.service, show, counters.clone(), false));

    // Error frames -> stderr.
    let error_frames = Arc::new(AtomicU64::new(0));
    let errs = {
        let ch = ch.clone();
        let progress = progress.clone();
        let count = error_frames.clone();
        tokio::spawn(async move {
            while let Ok(Some(b)) = ch.read_error().await {
                count.fetch_add(1, Ordering::Relaxed);
                progress.eprintln(&error_line(&b));
            }
        })
    };

    // Stdin -> channel.
    let up_done = Arc::new(AtomicBool::new(false));
    let up = {
        let ch = ch.clone();
        let counters = counters.clone();
        let done = up_done.clone();
        tokio::spawn(async move {
            let r = upload(ch, a.frames, counters).await;
            done.store(true, Ordering::Relaxed);
            r
        })
    };

    // Channel -> stdout, until the service closes its side.
    let down = download(&ch, a.frames, &counters).await;
    if let Err(e) = down {
        errs.abort();
        up.abort();
        let _ = ch.close().await;
        progress.finish();
        let _ = peer.shutdown().await;
        if e.downcast_ref::<StdoutClosed>().is_some() {
            // Like any Unix filter whose reader went away (`| head`): quietly.
            return Ok(EXIT_SIGPIPE);
        }
        return Err(e);
    }

    // The service has finished writing: its error frames end with its data.
    let _ = tokio::time::timeout(Duration::from_secs(5), errs).await;
    let up_result = if up_done.load(Ordering::Relaxed) || up.is_finished() {
        up.await.unwrap_or(Up::Done)
    } else {
        // The service is done while stdin is still open (an interactive
        // session, or a command that did not read all of its input).
        up.abort();
        Up::RemoteClosed
    };
    let trailers = ch.trailers();
    let _ = ch.close().await;
    progress.finish();
    let _ = peer.shutdown().await;

    if !a.quiet {
        for t in &trailers {
            eprintln!("trailer: {t}");
        }
    }
    if let Up::Failed(e) = up_result {
        common::report(&e);
        return Ok(1);
    }
    Ok(exit_code(&trailers, error_frames.load(Ordering::Relaxed)))
}

/// The exit code for the service's trailers and error frames.
fn exit_code(trailers: &[String], error_frames: u64) -> u8 {
    for t in trailers {
        if let Some(v) = t.strip_prefix("exit-status=") {
            return match v.trim().parse::<i64>() {
                Ok(n) if (0..=255).contains(&n) => n as u8,
                _ => 1,
            };
        }
    }
    if trailers.iter().any(|t| t.starts_with("error=")) || error_frames > 0 {
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&[], 0), 0);
        assert_eq!(exit_code(&[], 2), 1);
        assert_eq!(exit_code(&["exit-status=3".into()], 5), 3);
        assert_eq!(exit_code(&["exit-status=0".into()], 5), 0);
        assert_eq!(exit_code(&["error=unknown service".into()], 0), 1);
        assert_eq!(exit_code(&["exit-status=999".into()], 0), 1);
        assert_eq!(exit_code(&["other=1".into()], 0), 0);
    }
}
