//! `streamkit serve`: bind an endpoint and serve channels by service name.

use crate::common::{self, TrustArgs};
use crate::status;
use anyhow::{anyhow, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use streamkit_core::{Channel, ErrorKind, Peer, PeerOption};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const EXAMPLES: &str = "\
Actions:
  echo                     send back every byte received
  discard                  read and drop everything; trailer received-bytes=N
  forward:tcp://HOST:PORT  join the channel to a new TCP connection (reverse tunnel)
  exec:COMMAND             run `sh -c COMMAND` with the channel as stdin/stdout,
                           each stderr line as an error frame, and the exit status
                           as the trailer exit-status=N. The command starts with
                           a clean environment, as sshd gives: PATH, HOME,
                           USER, LOGNAME, SHELL, LANG and LC_* (those set for
                           `serve`), the variables named by --pass-env, and
                           STREAMKIT_SERVICE, STREAMKIT_PEER (the authenticated
                           peer name), STREAMKIT_PEER_FINGERPRINT (SHA256:... of
                           its key) and, per header KEY=V, STREAMKIT_HEADER_KEY=V.
An unknown service gets an error frame naming it and the trailer error=....

The bound endpoint is printed on stdout (one line), so tcp://127.0.0.1:0 works
in scripts. Clients must hold a key listed in --authorized-keys. With --stdio
nothing is printed on stdout: it is the connection.

Status: send SIGUSR1 (`kill -USR1 PID`) and serve writes its connections
(peer, address, key, uptime, round trip, bytes) and the channels it serves
(bytes and frames each way, unread bytes, time waiting for credit, time data
sat unread) to stderr.

Examples:
  streamkit serve tcp://127.0.0.1:7000 -k server.key -a clients.pub --service echo=echo
  streamkit serve tcp://0.0.0.0:7000 --service sh=exec:sh --service web=forward:tcp://127.0.0.1:8080
  streamkit serve unix:///tmp/sk.sock --service logs='exec:tail -f /var/log/syslog'
  streamkit serve --stdio -k server.key -a clients.pub -s echo=echo   # inetd-style";

/// Bind an endpoint and serve channels by service name.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Where to listen: tcp://HOST:PORT (port 0 picks a free port), unix:///path.
    #[arg(required_unless_present = "stdio", conflicts_with = "stdio")]
    pub endpoint: Option<String>,

    /// Serve one connection on stdin/stdout instead of listening (like
    /// `sshd -i`: for inetd, systemd socket activation with Accept=yes, or
    /// as another client's --proxy-command), and exit when it ends.
    #[arg(long)]
    pub stdio: bool,

    /// A service: NAME=ACTION, ACTION one of echo, discard,
    /// forward:tcp://HOST:PORT, exec:COMMAND (repeatable).
    #[arg(short = 's', long = "service", value_name = "NAME=ACTION", value_parser = parse_service, required = true)]
    pub services: Vec<(String, Action)>,

    /// Pass the server's environment variable NAME to exec commands
    /// (repeatable; they otherwise get a clean environment).
    #[arg(long = "pass-env", value_name = "NAME", value_parser = parse_env_name)]
    pub pass_env: Vec<String>,

    /// Refuse a client key's connection while that key already holds N
    /// (0, the default, is no limit).
    #[arg(long = "max-connections-per-key", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=16_777_216))]
    pub max_connections_per_key: u32,

    #[command(flatten)]
    pub log: common::LogArgs,

    /// Log errors only (not refused clients or lost connections).
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[command(flatten)]
    pub trust: TrustArgs,
}

/// What a service does with a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Echo,
    Discard,
    /// HOST:PORT
    Forward(String),
    /// A shell command line.
    Exec(String),
}

fn parse_env_name(s: &str) -> std::result::Result<String, String> {
    if s.is_empty() || s.contains('=') || s.contains('\0') {
        return Err(format!(
            "--pass-env takes a variable name (like TZ), not {s:?}"
        ));
    }
    Ok(s.to_string())
}

/// The environment an exec command starts with, from the server's own:
/// what sshd gives a session (PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*)
/// plus the variables named in `pass`; PATH defaults as in sshd.
fn child_env(
    server: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    pass: &[String],
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    const KEEP: &[&str] = &["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG"];
    let mut out: Vec<_> = server
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            KEEP.contains(&k.as_ref()) || k.starts_with("LC_") || pass.iter().any(|p| *p == k)
        })
        .collect();
    if !out.iter().any(|(k, _)| k == "PATH") {
        out.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
    }
    out
}

fn parse_service(s: &str) -> std::result::Result<(String, Action), String> {
    let (name, action) = s
        .split_once('=')
        .ok_or_else(|| format!("service {s:?} must look like NAME=ACTION (e.g. echo=echo)"))?;
    if name.is_empty() {
        return Err(format!("service {s:?} has an empty name"));
    }
    let act = match action {
        "echo" => Action::Echo,
        "discard" => Action::Discard,
        _ => {
            if let Some(t) = action.strip_prefix("forward:") {
                if !t.starts_with("tcp://") {
                    return Err(format!(
                        "forward target {t:?} must look like tcp://HOST:PORT"
                    ));
                }
                Action::Forward(common::tcp_addr(t).map_err(|e| e.to_string())?)
            } else if let Some(c) = action.strip_prefix("exec:") {
                if c.trim().is_empty() {
                    return Err("exec: needs a command, e.g. exec:date".into());
                }
                Action::Exec(c.to_string())
            } else {
                return Err(format!(
                    "unknown action {action:?}: use echo, discard, forward:tcp://HOST:PORT or exec:COMMAND"
                ));
            }
        }
    };
    Ok((name.to_string(), act))
}

pub async fn run(a: ServeArgs) -> u8 {
    match run_inner(a).await {
        Ok(()) => 0,
        Err(e) => common::fail(&e, common::exit::FAILURE),
    }
}

async fn run_inner(a: ServeArgs) -> Result<()> {
    let mut services = BTreeMap::new();
    for (n, act) in a.services {
        if services.insert(n.clone(), act).is_some() {
            return Err(common::usage(format!("--service {n:?} is given twice")));
        }
    }
    let services = Arc::new(services);
    let pass_env: Arc<[String]> = a.pass_env.clone().into();
    common::init_logging(a.log.verbose, a.quiet)?;
    let verbose = a.log.verbose > 0;
    let peer = common::make_peer(&a.trust)?;
    peer.set_option_int(
        PeerOption::MaxConnectionsPerKey,
        i64::from(a.max_connections_per_key),
    )
    .map_err(|e| common::usage(format!("--max-connections-per-key: {}", e.message())))?;
    if a.trust.key.is_none() && !common::default_key_exists() {
        eprintln!(
            "streamkit: warning: no --key and no ~/.ssh/id_ed25519 or ~/.ssh/id_rsa: using a temporary host key \
             that clients cannot know in advance (create one with `streamkit keygen`)"
        );
    }
    let stop = common::terminated();
    tokio::pin!(stop);
    let names = services.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut single: Option<String> = None;
    if a.stdio {
        eprintln!(
            "streamkit: serving {names} on stdin/stdout as {} (host key: {})",
            peer.name(),
            common::our_public_key(&peer)
        );
        let io = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let client = tokio::select! {
            r = peer.serve_stream(io) => r.map_err(|e| {
                common::coded(
                    common::exit::FAILURE,
                    format!("the connection on stdin/stdout failed: {}", e.message()),
                )
            })?,
            _ = &mut stop => return Ok(()),
        };
        if verbose {
            eprintln!("streamkit: {client} connected on stdin/stdout");
        }
        single = Some(client);
    } else {
        let endpoint = a.endpoint.as_deref().unwrap_or_default();
        let bound = peer.bind(endpoint).await.map_err(|e| match e.kind() {
            ErrorKind::Invalid => {
                common::usage(common::without_option_name(e.message()).to_string())
            }
            _ => common::coded(
                common::exit::FAILURE,
                format!("cannot listen on {endpoint}: {}", e.message()),
            ),
        })?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{bound}");
            let _ = out.flush();
        }
        eprintln!(
            "streamkit: serving {names} on {bound} as {} (host key: {})",
            peer.name(),
            common::our_public_key(&peer)
        );
    }
    // With --stdio, the one connection ending ends serve.
    let ended = {
        let peer = peer.clone();
        let single = single.clone();
        async move {
            let Some(name) = single else {
                return std::future::pending::<()>().await;
            };
            while let Some(ev) = peer.next_event().await {
                if ev.kind == streamkit_core::EventKind::Disconnected
                    && ev.peer.as_deref() == Some(name.as_str())
                {
                    return;
                }
            }
        }
    };
    tokio::pin!(ended);

    let mut handlers = tokio::task::JoinSet::new();
    let served = status::Served::default();
    let mut dump = status::DumpSignal::new();
    loop {
        tokio::select! {
            r = peer.accept() => match r {
                Ok(ch) => {
                    let services = services.clone();
                    let pass_env = pass_env.clone();
                    let tracked = served.track(&ch);
                    handlers.spawn(async move {
                        handle(ch, services, &pass_env, verbose).await;
                        drop(tracked);
                    });
                }
                Err(e) => {
                    if peer.is_shutdown() {
                        break;
                    }
                    return Err(anyhow!("accepting channels failed: {e}"));
                }
            },
            Some(_) = handlers.join_next(), if !handlers.is_empty() => {}
            _ = dump.recv() => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(status::report(&peer, &served).as_bytes());
                let _ = err.flush();
            }
            _ = &mut stop => break,
            _ = &mut ended => {
                // Let the channels still running finish (the connection is
                // gone, so they end promptly).
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while handlers.join_next().await.is_some() {}
                })
                .await;
                break;
            }
        }
    }
    let _ = Peer::shutdown(&peer).await;
    // Dropping the handlers kills the commands that exec services still run.
    handlers.shutdown().await;
    Ok(())
}

/// The header of `forward`'s start-up check: `streamkit serve` answers it
/// with the trailer `probe=ok` or `error=...` and runs nothing.
pub const PROBE_HEADER: &str = "streamkit-probe=1";

async fn handle(
    ch: Channel,
    services: Arc<BTreeMap<String, Action>>,
    pass_env: &[String],
    verbose: bool,
) {
    let service = ch.service().to_string();
    let who = ch.remote_peer().to_string();
    if verbose {
        eprintln!(
            "streamkit: {who} opened {service:?} (headers: {:?})",
            ch.headers()
        );
    }
    // `forward` asks once at start whether the service exists: answer
    // without running it (an exec service must not run for a probe).
    if ch.headers().iter().any(|h| h == PROBE_HEADER) {
        let answer = if services.contains_key(&service) {
            "probe=ok".to_string()
        } else {
            let offered = services.keys().cloned().collect::<Vec<_>>().join(", ");
            format!("error=unknown service {service:?} (this server offers: {offered})")
        };
        let _ = ch.write_trailers(&[answer]).await;
        let _ = ch.close_write().await;
        let _ = ch.close().await;
        return;
    }
    let r = match services.get(&service) {
        Some(Action::Echo) => echo(&ch).await,
        Some(Action::Discard) => discard(&ch).await,
        Some(Action::Forward(addr)) => forward(&ch, addr).await,
        Some(Action::Exec(cmd)) => exec(&ch, cmd, pass_env).await,
        None => {
            let offered = services.keys().cloned().collect::<Vec<_>>().join(", ");
            fail(
                &ch,
                &format!("unknown service {service:?} (this server offers: {offered})"),
            )
            .await;
            Ok(())
        }
    };
    if let Err(e) = r {
        if verbose {
            eprintln!("streamkit: {who} {service:?}: {e:#}");
        }
    }
    let _ = ch.close().await;
    if verbose {
        let s = ch.stats();
        eprintln!(
            "streamkit: {who} {service:?} closed: sent {}, received {}",
            status::bytes(s.bytes_sent),
            status::bytes(s.bytes_received)
        );
    }
}

/// Refuse: an error frame, an error= trailer, then end the stream.
async fn fail(ch: &Channel, msg: &str) {
    let _ = ch.write_error(msg.as_bytes()).await;
    let _ = ch.write_trailers(&[format!("error={msg}")]).await;
    let _ = ch.close_write().await;
}

async fn echo(ch: &Channel) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = ch.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        ch.write(&buf[..n]).await?;
    }
    ch.close_write().await?;
    Ok(())
}

async fn discard(ch: &Channel) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = ch.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    ch.write_trailers(&[format!("received-bytes={total}")])
        .await?;
    ch.close_write().await?;
    Ok(())
}

async fn forward(ch: &Channel, addr: &str) -> Result<()> {
    match tokio::net::TcpStream::connect(addr).await {
        Ok(tcp) => {
            let _ = tcp.set_nodelay(true);
            ch.join(tcp).await?;
            Ok(())
        }
        Err(e) => {
            let msg = format!("forward: cannot connect to {addr}: {e}");
            fail(ch, &msg).await;
            Err(anyhow!(msg))
        }
    }
}

fn env_key(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Kills the command's whole process group when dropped while armed (the
/// client went away, the server shuts down, or something the command left
/// behind still holds its output pipes after it exited).
struct GroupKill {
    pgid: Option<u32>,
}

impl GroupKill {
    fn kill(&self) {
        #[cfg(unix)]
        if let Some(p) = self
            .pgid
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 1)
        {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe {
                libc::kill(-p, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn exec(ch: &Channel, cmd: &str, pass_env: &[String]) -> Result<()> {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_clear()
        .envs(child_env(std::env::vars_os(), pass_env))
        .env("STREAMKIT_SERVICE", ch.service())
        .env("STREAMKIT_PEER", ch.remote_peer())
        .env("STREAMKIT_PEER_FINGERPRINT", ch.remote_fingerprint());
    #[cfg(unix)]
    c.process_group(0);
    for h in ch.headers() {
        if let Some((k, v)) = h.split_once('=') {
            c.env(format!("STREAMKIT_HEADER_{}", env_key(k)), v);
        }
    }
    let mut child = match c.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("exec: cannot run `sh -c {cmd}`: {e}");
            fail(ch, &msg).await;
            return Err(anyhow!(msg));
        }
    };
    let mut group = GroupKill { pgid: child.id() };
    let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        fail(ch, "exec: the command's pipes are missing").await;
        return Err(anyhow!("pipes missing"));
    };

    // Signalled when the client is gone: the command is then killed.
    let gone = Arc::new(tokio::sync::Notify::new());
    // channel -> command stdin; ends at the client's end of stream, or when
    // the command stops reading.
    let feeder = {
        let ch = ch.clone();
        let gone = gone.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match ch.read(&mut buf).await {
                    Ok(0) => break,
                    Err(_) => {
                        gone.notify_one();
                        break;
                    }
                    Ok(n) => {
                        if stdin.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            drop(stdin);
        })
    };
    // command stdout -> channel.
    let out = async {
        let mut buf = vec![0u8; 64 * 1024];
        let r = async {
            loop {
                let n = stdout.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), anyhow::Error>(());
                }
                ch.write(&buf[..n]).await?;
            }
        }
        .await;
        if r.is_err() {
            gone.notify_one();
        }
        r
    };
    // command stderr lines -> error frames.
    let err = async {
        let mut r = BufReader::new(stderr);
        let mut line = Vec::new();
        let res = async {
            loop {
                line.clear();
                let n = r.read_until(b'\n', &mut line).await?;
                if n == 0 {
                    return Ok::<(), anyhow::Error>(());
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                ch.write_error(&line).await?;
            }
        }
        .await;
        if res.is_err() {
            gone.notify_one();
        }
        res
    };
    let pipes = async { tokio::join!(out, err) };
    // The command ends by itself, or is killed (with its process group) once
    // the client is gone; the pipes are then drained. If something it left
    // behind keeps them open 2 s after it exited, that is killed too.
    let (ro, re, status) = {
        let run = async {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
            let status = loop {
                tokio::select! {
                    st = child.wait() => break st,
                    _ = gone.notified() => group.kill(),
                    _ = tick.tick() => if ch.is_closed() { group.kill() },
                }
            };
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            group.kill();
            status
        };
        tokio::pin!(run);
        tokio::pin!(pipes);
        let mut status = None;
        let (ro, re) = loop {
            tokio::select! {
                r = &mut pipes => break r,
                st = &mut run, if status.is_none() => status = Some(st),
            }
        };
        (ro, re, status)
    };
    let status = match status {
        Some(st) => st?,
        // The pipes closed first (the usual case): wait for the exit status.
        None => child.wait().await?,
    };
    feeder.abort();
    if ro.is_ok() && re.is_ok() {
        group.pgid = None; // a clean finish: leave anything it started in the background alone
    }
    let code = status.code().unwrap_or_else(|| {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }
        #[cfg(not(unix))]
        {
            1
        }
    });
    ro?;
    re?;
    ch.write_trailers(&[format!("exit-status={code}")]).await?;
    ch.close_write().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_environment_is_clean() {
        let server = [
            ("PATH", "/p"),
            ("HOME", "/h"),
            ("USER", "u"),
            ("LOGNAME", "u"),
            ("SHELL", "/bin/sh"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("TZ", "UTC"),
            ("LD_PRELOAD", "/evil.so"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let got = child_env(server.into_iter(), &["TZ".to_string()]);
        let names: Vec<String> = got
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ"]
        );
        let got = child_env(std::iter::empty(), &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "PATH");
        assert!(parse_env_name("A=b").is_err() && parse_env_name("").is_err());
    }

    #[test]
    fn parses_services() {
        assert_eq!(parse_service("e=echo").unwrap(), ("e".into(), Action::Echo));
        assert_eq!(
            parse_service("d=discard").unwrap(),
            ("d".into(), Action::Discard)
        );
        assert_eq!(
            parse_service("w=forward:tcp://127.0.0.1:80").unwrap(),
            ("w".into(), Action::Forward("127.0.0.1:80".into()))
        );
        assert_eq!(
            parse_service("x=exec:echo a=b").unwrap(),
            ("x".into(), Action::Exec("echo a=b".into()))
        );
        assert!(parse_service("echo").is_err());
        assert!(parse_service("=echo").is_err());
        assert!(parse_service("x=bogus").is_err());
        assert!(parse_service("x=exec:").is_err());
        assert!(parse_service("x=forward:127.0.0.1:80").is_err());
        assert!(parse_service("x=forward:tcp://host").is_err());
    }

    #[test]
    fn env_keys() {
        assert_eq!(env_key("content-type"), "CONTENT_TYPE");
    }
}
