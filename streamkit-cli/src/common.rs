//! Options and helpers shared by the subcommands: identity and trust flags,
//! peer construction, connecting with helpful errors, exit codes.

use anyhow::{anyhow, Result};
use clap::Args;
use std::future::Future;
use std::path::{Path, PathBuf};
use streamkit_core::{Error as SkError, ErrorKind, Peer, PeerOption};

/// Exit codes, the same for every subcommand (streamkit-cli/README.md).
/// `open` also exits with the service's own `exit-status=N`, so streamkit's
/// failures sit at the top of the range, as ssh's 255 does.
pub mod exit {
    /// The operation failed (a file could not be written, an address is in
    /// use, the service reported errors without an exit status).
    pub const FAILURE: u8 = 1;
    /// Bad command line: a flag, value, endpoint or file the user named.
    pub const USAGE: u8 = 2;
    /// The connection was lost or the remote broke the protocol.
    pub const LOST: u8 = 251;
    /// The server refused the channel (unknown service, a limit).
    pub const REFUSED: u8 = 252;
    /// Authentication failed: either side refused the other's key.
    pub const AUTH: u8 = 253;
    /// Could not connect: nothing listening, unreachable, timed out.
    pub const CONNECT: u8 = 254;
    /// Any other failure of streamkit itself.
    pub const STREAMKIT: u8 = 255;
}

/// An error that carries the exit code it should end the process with.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub msg: String,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Coded {}

/// An error ending the process with `code`.
pub fn coded(code: u8, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        msg: msg.into(),
    })
}

/// A usage error (exit 2): the user's flags, values or files are wrong.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    coded(exit::USAGE, msg)
}

/// The exit code for one of streamkit's error kinds.
pub fn kind_code(k: ErrorKind) -> u8 {
    match k {
        ErrorKind::Invalid => exit::USAGE,
        ErrorKind::Auth => exit::AUTH,
        ErrorKind::Timeout | ErrorKind::NoPeer => exit::CONNECT,
        ErrorKind::Closed | ErrorKind::Eof | ErrorKind::Protocol | ErrorKind::Io => exit::LOST,
        ErrorKind::Internal => exit::STREAMKIT,
    }
}

/// The exit code for `e`: the first code attached along its chain of
/// causes, else the kind of a streamkit error in it, else `default`.
pub fn exit_code(e: &anyhow::Error, default: u8) -> u8 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if let Some(sk) = cause.downcast_ref::<SkError>() {
            return kind_code(sk.kind());
        }
    }
    default
}

/// Report `e` on stderr and return its exit code.
pub fn fail(e: &anyhow::Error, default: u8) -> u8 {
    report(e);
    exit_code(e, default)
}

/// streamkit's message without the option name the core puts first
/// (`PRIVATE_KEY: key file ...`): the CLI names its own flags instead.
pub fn without_option_name(msg: &str) -> &str {
    match msg.split_once(": ") {
        Some((head, rest))
            if !head.is_empty() && head.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            rest
        }
        _ => msg,
    }
}

/// Identity and trust: the flags every networked subcommand takes.
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// This peer's name (default: a random UUID).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Our private key (OpenSSH or PEM) [default: ~/.ssh/id_ed25519, then
    /// ~/.ssh/id_rsa, else a temporary key]. Create one with `streamkit keygen`.
    #[arg(long, short = 'k', value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Public keys we trust, one per line (OpenSSH authorized_keys format)
    /// [default: ~/.ssh/authorized_keys]. Our own key is always trusted.
    #[arg(long, short = 'a', value_name = "FILE")]
    pub authorized_keys: Option<PathBuf>,
}

/// Flags of the connecting subcommands (`open`, `forward`).
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    #[command(flatten)]
    pub trust: TrustArgs,

    /// Check the server's host key against this known_hosts file instead of
    /// the authorized keys.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,

    /// How long to keep trying to connect, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub connect_timeout: i64,

    /// Connect through COMMAND's stdin and stdout instead of a socket, like
    /// OpenSSH's ProxyCommand: it runs with `sh -c`, with %h and %p
    /// replaced by the endpoint's host and port and %% by %. Run again for
    /// each reconnect. Example: --proxy-command 'ssh -W %h:%p bastion'.
    #[arg(long, value_name = "COMMAND")]
    pub proxy_command: Option<String>,

    /// A header sent when opening the channel (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<String>,
}

fn parse_header(s: &str) -> std::result::Result<String, String> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(s.to_string()),
        _ => Err(format!("header {s:?} must look like KEY=VALUE")),
    }
}

/// Run `fut` on a fresh multi-thread runtime and return its exit code.
pub fn block_on<F: Future<Output = u8>>(fut: F) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(fut);
            // Do not wait for tokio's stdin reader: it may be blocked reading a
            // terminal or pipe that never ends (the service finished first).
            rt.shutdown_background();
            code
        }
        Err(e) => {
            eprintln!("streamkit: error: cannot start the async runtime: {e}");
            1
        }
    }
}

/// The environment variable that overrides `-v`/`-q` with a tracing
/// env-filter (e.g. `STREAMKIT_LOG=streamkit_core=debug`).
pub const LOG_VAR: &str = "STREAMKIT_LOG";

/// Verbosity flags shared by `serve`, `open` and `forward`.
#[derive(Args, Debug, Clone, Copy)]
pub struct LogArgs {
    /// More log lines on stderr: -v connections, channels and refusals;
    /// -vv protocol detail. STREAMKIT_LOG (a tracing filter) overrides it.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Show streamkit's log lines on stderr: errors only with `quiet`,
/// warnings by default, more with each `-v`; `STREAMKIT_LOG` (env-filter
/// syntax) replaces all of that. One line per event: `streamkit: LEVEL
/// message key=value...`.
pub fn init_logging(verbose: u8, quiet: bool) -> Result<()> {
    use tracing_subscriber::filter::EnvFilter;
    use tracing_subscriber::prelude::*;
    let filter = match std::env::var(LOG_VAR) {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| usage(format!("{LOG_VAR}={spec:?} is not a valid log filter: {e}")))?,
        _ => {
            let level = match (quiet, verbose) {
                (true, _) => "error",
                (false, 0) => "warn",
                (false, 1) => "info",
                (false, _) => "debug",
            };
            EnvFilter::new(format!("streamkit_core={level},streamkit={level}"))
        }
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_level(true)
        .with_ansi(false)
        .without_time()
        .event_format(LineFormat);
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .try_init();
    Ok(())
}

/// `streamkit: WARN message key=value` — the same prefix as the CLI's own
/// messages.
struct LineFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LineFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "streamkit: {} ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Whether `STREAMKIT_LOG` asks for a specific filter.
fn log_var_set() -> bool {
    std::env::var(LOG_VAR).is_ok_and(|v| !v.trim().is_empty())
}

/// [`connect`], with logging started once: after the connect, so that its
/// failure is reported once (by us, not also by the core's log lines),
/// unless STREAMKIT_LOG asks to see the core's lines from the start.
pub async fn connect_logged(
    peer: &Peer,
    endpoint: &str,
    c: &ClientArgs,
    log: LogArgs,
    quiet: bool,
) -> Result<String> {
    let early = log_var_set();
    if early {
        init_logging(log.verbose, quiet)?;
    }
    let remote = connect(peer, endpoint, c).await?;
    if !early {
        init_logging(log.verbose, quiet)?;
    }
    Ok(remote)
}

/// Print an error and its causes on stderr.
pub fn report(e: &anyhow::Error) {
    eprintln!("streamkit: error: {e:#}");
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| usage(format!("path {} is not valid UTF-8", p.display())))
}

pub fn home_ssh(file: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".ssh").join(file))
}

/// Whether an identity key will be found without --key.
pub fn default_key_exists() -> bool {
    ["id_ed25519", "id_rsa"]
        .iter()
        .filter_map(|f| home_ssh(f))
        .any(|p| p.is_file())
}

/// Build a peer from the identity and trust flags.
pub fn make_peer(t: &TrustArgs) -> Result<Peer> {
    let peer = Peer::new();
    if let Some(n) = &t.name {
        peer.set_option_str(PeerOption::Name, n).map_err(|e| {
            usage(format!(
                "--name {n:?}: {}",
                without_option_name(e.message())
            ))
        })?;
    }
    if let Some(k) = &t.key {
        if !k.is_file() {
            return Err(usage(format!(
                "key file {} not found: create one with `streamkit keygen -f {}`",
                k.display(),
                k.display()
            )));
        }
        peer.set_option_str(PeerOption::PrivateKey, path_str(k)?)
            .map_err(|e| {
                usage(format!(
                    "--key {}: {}",
                    k.display(),
                    without_option_name(e.message())
                ))
            })?;
    }
    if let Some(a) = &t.authorized_keys {
        if !a.is_file() {
            return Err(usage(format!(
                "authorized keys file {} not found: create it with the public key lines \
                 (`streamkit keygen` prints them) of the peers you trust",
                a.display()
            )));
        }
        peer.set_option_str(PeerOption::AuthorizedKeys, path_str(a)?)
            .map_err(|e| {
                usage(format!(
                    "--authorized-keys {}: {}",
                    a.display(),
                    without_option_name(e.message())
                ))
            })?;
    }
    Ok(peer)
}

/// Build a client peer: identity, trust, known_hosts, connect timeout.
pub fn make_client(c: &ClientArgs) -> Result<Peer> {
    let peer = make_peer(&c.trust)?;
    if let Some(kh) = &c.known_hosts {
        if !kh.is_file() {
            return Err(usage(format!(
                "known_hosts file {} not found",
                kh.display()
            )));
        }
        peer.set_option_str(PeerOption::KnownHosts, path_str(kh)?)
            .map_err(|e| {
                usage(format!(
                    "--known-hosts {}: {}",
                    kh.display(),
                    without_option_name(e.message())
                ))
            })?;
    }
    if c.connect_timeout < 0 {
        return Err(usage("--connect-timeout must be 0 or more milliseconds"));
    }
    peer.set_option_int(PeerOption::ConnectTimeout, c.connect_timeout)
        .map_err(|e| {
            usage(format!(
                "--connect-timeout: {}",
                without_option_name(e.message())
            ))
        })?;
    Ok(peer)
}

/// Our public key line, for messages.
pub fn our_public_key(peer: &Peer) -> String {
    peer.public_key()
        .unwrap_or_else(|_| "<our public key>".to_string())
}

/// Where the peer's trusted keys come from, for messages.
fn trust_source(c: &ClientArgs) -> String {
    match &c.trust.authorized_keys {
        Some(p) => format!("--authorized-keys {}", p.display()),
        None => "~/.ssh/authorized_keys".to_string(),
    }
}

/// Turn a failed connect into an error that says what to do.
pub fn explain_connect_error(
    e: SkError,
    endpoint: &str,
    peer: &Peer,
    c: &ClientArgs,
) -> anyhow::Error {
    let msg = e.message().to_string();
    let lower = msg.to_lowercase();
    match e.kind() {
        ErrorKind::Auth => {
            let server_side = lower.contains("host key")
                || lower.contains("server key")
                || lower.contains("certificate")
                || lower.contains("known_hosts")
                || lower.contains("known hosts");
            if server_side {
                // The core quotes the key it saw between backticks.
                let key = msg
                    .split('`')
                    .nth(1)
                    .filter(|k| k.starts_with("ssh-") || k.starts_with("ecdsa-"));
                let what = match key {
                    Some(k) => format!("add `{k}` (the key {endpoint} presented)"),
                    None => "add the server's public key line".to_string(),
                };
                let fix = match &c.known_hosts {
                    Some(kh) => format!(
                        "{what} for that host to the known_hosts file {} (or drop --known-hosts and use --authorized-keys FILE)",
                        kh.display()
                    ),
                    None => format!(
                        "{what} to --authorized-keys FILE (or ~/.ssh/authorized_keys); now using {}",
                        trust_source(c)
                    ),
                };
                if key.is_some() {
                    coded(exit::AUTH, format!("server host key not trusted: {fix}"))
                } else {
                    coded(
                        exit::AUTH,
                        format!("server host key not trusted: {fix}\n  ({msg})"),
                    )
                }
            } else {
                coded(
                    exit::AUTH,
                    format!(
                    "our key was refused by the server {endpoint}: add `{}` to its authorized keys \
                     (the file its --authorized-keys names, or ~/.ssh/authorized_keys)",
                    our_public_key(peer)
                ),
                )
            }
        }
        ErrorKind::Timeout => {
            // The core's message repeats the endpoint and the limit; keep
            // only the cause of the last attempt.
            let cause = msg
                .split_once("last error: ")
                .map(|(_, cause)| format!("\n  (last attempt: {cause})"))
                .unwrap_or_default();
            coded(
                exit::CONNECT,
                format!(
                    "could not connect to {endpoint} within {} ms: is `streamkit serve {endpoint}` \
                     running? (raise the limit with --connect-timeout MS){cause}",
                    c.connect_timeout
                ),
            )
        }
        ErrorKind::Invalid => usage(without_option_name(&msg).to_string()),
        kind => coded(
            kind_code(kind),
            format!("cannot connect to {endpoint}: {e}"),
        ),
    }
}

/// Connect `peer` to `endpoint` and return the name of the remote peer.
pub async fn connect(peer: &Peer, endpoint: &str, c: &ClientArgs) -> Result<String> {
    let before = peer.peers();
    let connecting: std::pin::Pin<Box<dyn Future<Output = streamkit_core::Result<()>> + Send>> =
        match &c.proxy_command {
            None => {
                let p = peer.clone();
                let ep = endpoint.to_string();
                Box::pin(async move { p.connect(&ep).await })
            }
            Some(cmd) => {
                let cmd = proxy_command(cmd, endpoint)?;
                let p = peer.clone();
                let ep = endpoint.to_string();
                Box::pin(async move { p.connect_via(&ep, move || spawn_proxy(cmd.clone())).await })
            }
        };
    tokio::pin!(connecting);
    // Say what we are waiting for when it takes a while (the core retries
    // a refused connect until --connect-timeout).
    let r = tokio::select! {
        // The notice first when both are ready: the wait did pass 1 s.
        biased;
        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
            eprintln!(
                "streamkit: waiting for {endpoint} to accept the connection \
                 (giving up after {} ms, --connect-timeout MS)",
                c.connect_timeout
            );
            connecting.await
        }
        r = &mut connecting => r,
    };
    r.map_err(|e| explain_connect_error(e, endpoint, peer, c))?;
    // Connect returns once both sides know each other's name.
    let after = peer.peers();
    let remote = after
        .iter()
        .find(|n| !before.contains(n))
        .cloned()
        .or_else(|| peer.next_peer())
        .ok_or_else(|| anyhow!("connected to {endpoint} but the server's name is unknown"))?;
    Ok(remote)
}

/// `--proxy-command` with OpenSSH's tokens replaced: %h host, %p port, %%.
pub fn proxy_command(cmd: &str, endpoint: &str) -> Result<String> {
    let Ok(streamkit_core::Endpoint::Tcp { host, port }) =
        streamkit_core::Endpoint::parse(endpoint)
    else {
        return Err(usage(format!(
            "--proxy-command needs a tcp://HOST:PORT endpoint (its %h and %p), not {endpoint:?}"
        )));
    };
    let mut out = String::new();
    let mut it = cmd.chars();
    while let Some(ch) = it.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match it.next() {
            Some('h') => out.push_str(&host),
            Some('p') => out.push_str(&port.to_string()),
            Some('%') => out.push('%'),
            Some(t) => {
                return Err(usage(format!(
                "--proxy-command: unknown token %{t} (known: %h host, %p port, %% a percent sign)"
            )))
            }
            None => {
                return Err(usage(
                    "--proxy-command ends with a lone % (write %% for a percent sign)",
                ))
            }
        }
    }
    if out.trim().is_empty() {
        return Err(usage("--proxy-command is empty"));
    }
    Ok(out)
}

/// Start the proxy command; its stdout and stdin are the connection.
async fn spawn_proxy(
    cmd: String,
) -> std::io::Result<tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run --proxy-command: {e}")))?;
    let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(std::io::Error::other("--proxy-command has no stdin/stdout"));
    };
    // Reap it when it exits (it does once the connection closes its stdin).
    tokio::spawn(async move {
        if let Ok(st) = child.wait().await {
            tracing::debug!("--proxy-command exited: {st}");
        }
    });
    Ok(tokio::io::join(out, inp))
}

/// Check that a plain `HOST:PORT` (or `tcp://HOST:PORT`) names a TCP address.
pub fn tcp_addr(s: &str) -> Result<String> {
    let rest = s.strip_prefix("tcp://").unwrap_or(s);
    if rest.parse::<u16>().is_ok() {
        return Ok(format!("127.0.0.1:{rest}"));
    }
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
        usage(format!(
            "bad TCP address {s:?}: expected HOST:PORT or tcp://HOST:PORT"
        ))
    })?;
    if host.is_empty() {
        return Err(usage(format!("bad TCP address {s:?}: empty host")));
    }
    port.parse::<u16>().map_err(|_| {
        usage(format!(
            "bad TCP address {s:?}: port must be a number 0-65535"
        ))
    })?;
    Ok(rest.to_string())
}

/// A future that completes at Ctrl-C or SIGTERM. The handlers are installed
/// when this is called (inside the runtime), not when it is first polled, so
/// call it before announcing readiness.
pub fn terminated() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut t), Some(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = i.recv() => {}
                    }
                }
                (Some(mut t), None) => {
                    t.recv().await;
                }
                (None, Some(mut i)) => {
                    i.recv().await;
                }
                (None, None) => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Raise the soft limit on open descriptors to the hard limit, as servers
/// do: every connection holds a descriptor, and the common soft limit of
/// 1,024 would lock clients out long before memory or CPU runs short. The
/// library itself never changes process limits.
pub(crate) fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            let was = r.rlim_cur;
            r.rlim_cur = r.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return;
            }
            tracing::debug!("descriptor limit raised from {was} to {}", r.rlim_max);
        }
    }
}
