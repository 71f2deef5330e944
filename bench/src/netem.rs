//! Scenario 9: a long fat link (50 ms round trip). The bench creates two
//! network namespaces (`skbench-<pid>-<n>a` / `...b`) joined by a veth pair
//! with `tc ... netem delay 25ms` on each end, so every packet, data and ACK,
//! is held 25 ms each way. One side of each transfer lives in each namespace:
//! it runs on its own thread that first joins the namespace with setns(2)
//! and then builds its own tokio runtime (1 worker), whose threads inherit
//! the namespace; every socket of that side is therefore created there.
//!
//! Where the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM unset, as on
//! the development VM) the link is the bench's own userspace delay line
//! instead: a tun device in each namespace (MTU 9000) and one forwarding
//! thread per direction that holds every IP packet 25 ms, FIFO, without
//! loss (tail drop only beyond 64 MiB queued). The note in the output says
//! which one was used. No rate limit either way: at 50 ms the default Linux
//! socket buffers (tcp_wmem max 4 MiB) cap raw TCP well below what the CPU
//! can move, so the window, not the CPU, is what is measured.
//!
//! The namespaces (and with them the veth pair or tun devices) are deleted
//! when the `Link` is dropped, also on failure or panic; namespaces left by a
//! bench that was killed are deleted by the next run (their pid is gone).

use crate::util::*;
use crate::Out;
use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use streamkit_core::{Peer, PeerOption};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Delay added in each direction: 50 ms round trip.
pub const ONE_WAY: Duration = Duration::from_millis(25);
const ADDR_A: &str = "10.77.0.1";
const ADDR_B: &str = "10.77.0.2";
const DEV: &str = "skb0";
const PREFIX: &str = "skbench-";
const TUN_MTU: &str = "9000";
/// Delay line: packets queued beyond this many bytes per direction are dropped.
const QUEUE_LIMIT: usize = 64 << 20;

fn run(prog: &str, args: &[&str]) -> Result<(), String> {
    let o = std::process::Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| format!("`{prog}`: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{prog} {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).exists()))
}

/// Run `f` on a new thread inside network namespace `ns`.
fn in_ns<T, F>(ns: &str, f: F) -> std::thread::JoinHandle<Result<T, String>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, String> + Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        // SAFETY: setns only changes this thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        f()
    })
}

fn join<T>(h: std::thread::JoinHandle<Result<T, String>>) -> Result<T, String> {
    h.join().map_err(|p| {
        let m = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        format!("thread panicked: {}", m.unwrap_or_default())
    })?
}

/// The two namespaces and the delayed link between them; deleted on drop.
pub struct Link {
    ns: [String; 2],
    how: String,
    stop: Arc<AtomicBool>,
    line: Vec<std::thread::JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl Link {
    /// Set up the link, or say why it cannot be done here (the skip note).
    pub fn new() -> Result<Link, String> {
        for p in ["ip", "tc"] {
            if !on_path(p) {
                return Err(format!("`{p}` not found (apt-get install -y iproute2)"));
            }
        }
        remove_stale();
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let mut link = Link {
            ns: [format!("{base}a"), format!("{base}b")],
            how: String::new(),
            stop: Arc::new(AtomicBool::new(false)),
            line: Vec::new(),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for ns in &link.ns {
            run("ip", &["netns", "add", ns])
                .map_err(|e| format!("cannot create a network namespace (needs root): {e}"))?;
        }
        let ms = ONE_WAY.as_millis().to_string();
        match link.netem(&ms) {
            Ok(()) => {
                link.how = format!("tc netem delay {ms}ms on each end of a veth pair between two network namespaces (no rate limit)");
            }
            Err(netem_err) => {
                let _ = run("ip", &["-n", &link.ns[0], "link", "del", DEV]);
                link.tun().map_err(|e| {
                    format!("no netem ({netem_err}), and no userspace delay line either ({e})")
                })?;
                link.how = format!(
                    "the kernel has no netem qdisc ({netem_err}), so the link is the bench's userspace delay line instead: \
                     a tun device (MTU {TUN_MTU}) in each of two network namespaces, every IP packet held {ms} ms each way \
                     by a forwarding thread per direction (no rate limit, no loss)"
                );
            }
        }
        let rtt = link.connect_ms()?;
        link.how.push_str(&format!(
            "; measured TCP connect (one round trip): {rtt:.1} ms"
        ));
        Ok(link)
    }

    fn netem(&self, ms: &str) -> Result<(), String> {
        let [a, b] = &self.ns;
        run(
            "ip",
            &[
                "link", "add", DEV, "netns", a, "type", "veth", "peer", "name", DEV, "netns", b,
            ],
        )?;
        for (ns, addr) in [(a, ADDR_A), (b, ADDR_B)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", DEV],
            )?;
            run("ip", &["-n", ns, "link", "set", DEV, "up"])?;
            // netem's default limit (1000 packets) would drop at this BDP
            run(
                "tc",
                &[
                    "-n",
                    ns,
                    "qdisc",
                    "add",
                    "dev",
                    DEV,
                    "root",
                    "netem",
                    "delay",
                    &format!("{ms}ms"),
                    "limit",
                    "100000",
                ],
            )?;
        }
        Ok(())
    }

    fn tun(&mut self) -> Result<(), String> {
        let [a, b] = self.ns.clone();
        let fa = Arc::new(join(in_ns(&a, open_tun))?);
        let fb = Arc::new(join(in_ns(&b, open_tun))?);
        for (ns, me, peer) in [(&a, ADDR_A, ADDR_B), (&b, ADDR_B, ADDR_A)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", me, "peer", peer, "dev", DEV],
            )?;
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "link",
                    "set",
                    "dev",
                    DEV,
                    "mtu",
                    TUN_MTU,
                    "txqueuelen",
                    "10000",
                    "up",
                ],
            )?;
        }
        for (from, to) in [(fa.clone(), fb.clone()), (fb, fa)] {
            let (stop, dropped) = (self.stop.clone(), self.dropped.clone());
            self.line.push(std::thread::spawn(move || {
                delay_line(&from, &to, &stop, &dropped)
            }));
        }
        Ok(())
    }

    /// Median time of a TCP connect from a to b: one round trip of the link.
    fn connect_ms(&self) -> Result<f64, String> {
        let l = join(in_ns(&self.ns[1], || {
            std::net::TcpListener::bind((ADDR_B, 0)).map_err(|e| format!("bind: {e}"))
        }))?;
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        let acc = std::thread::spawn(move || {
            for _ in 0..5 {
                let _ = l.accept();
            }
        });
        let ms = join(in_ns(&self.ns[0], move || {
            let mut v = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    .map_err(|e| format!("connect over the link: {e}"))?;
                v.push(t.elapsed().as_secs_f64() * 1e3);
                drop(s);
            }
            Ok(median(&v))
        }));
        let _ = acc.join();
        ms
    }

    /// What the link is, for the report (with the delay line's drops, if any).
    pub fn note(&self) -> String {
        if self.line.is_empty() {
            self.how.clone()
        } else {
            format!(
                "{}; packets dropped by the delay line: {}",
                self.how,
                self.dropped.load(Ordering::Relaxed)
            )
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.line.drain(..) {
            let _ = t.join();
        }
        for ns in &self.ns {
            let _ = run("ip", &["netns", "del", ns]);
        }
    }
}

/// Is `pid` a running streamkit-bench (not gone, not a zombie, not reused)?
fn bench_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // "pid (comm) state ..."
    match (stat.find('('), stat.rfind(')')) {
        (Some(a), Some(b)) if a < b => {
            stat[a + 1..b].starts_with("streamkit-bench")
                && !stat[b + 1..].trim_start().starts_with('Z')
        }
        _ => false,
    }
}

/// Delete namespaces of earlier benches that did not clean up (killed).
fn remove_stale() {
    let Ok(rd) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !bench_alive(pid) {
                let _ = run("ip", &["netns", "del", &name]);
            }
        }
    }
}

/// Create tun device DEV in the calling thread's namespace (non-blocking fd;
/// the device disappears with the last fd).
fn open_tun() -> Result<OwnedFd, String> {
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca; // _IOW('T', 202, int)
    const IFF_TUN: libc::c_short = 0x0001;
    const IFF_NO_PI: libc::c_short = 0x1000;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")
        .map_err(|e| format!("/dev/net/tun: {e}"))?;
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TUN | IFF_NO_PI,
        _pad: [0; 22],
    };
    req.name[..DEV.len()].copy_from_slice(DEV.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq lays out.
    if unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF as _, &mut req) } != 0 {
        return Err(format!("TUNSETIFF: {}", std::io::Error::last_os_error()));
    }
    Ok(f.into())
}

/// Forward every packet read from `from` to `to` after ONE_WAY, in order.
fn delay_line(from: &OwnedFd, to: &OwnedFd, stop: &AtomicBool, dropped: &AtomicU64) {
    let mut q: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut queued = 0usize;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let idle = Duration::from_millis(20); // look at `stop` that often
        let wait = q
            .front()
            .map_or(idle, |(t, _)| t.saturating_duration_since(now).min(idle));
        let mut pfd = libc::pollfd {
            fd: from.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as _,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        for _ in 0..1024 {
            // SAFETY: reads into `buf`, which is buf.len() bytes long.
            let n = unsafe { libc::read(from.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break; // EAGAIN: nothing more for now
            }
            let n = n as usize;
            if queued + n > QUEUE_LIMIT {
                dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            queued += n;
            q.push_back((Instant::now() + ONE_WAY, buf[..n].to_vec()));
        }
        let now = Instant::now();
        while q.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, p)) = q.pop_front() else { break };
            queued -= p.len();
            // SAFETY: writes p.len() bytes from `p`; a tun write never blocks.
            unsafe { libc::write(to.as_raw_fd(), p.as_ptr().cast(), p.len()) };
        }
    }
}

/// One side of a transfer: on its own thread in namespace `ns`, with its own
/// tokio runtime (1 worker, created there so its threads are in `ns` too).
fn side<T, F, Fut>(ns: &str, limit: Duration, f: F) -> std::thread::JoinHandle<Result<T, String>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, String>>,
{
    in_ns(ns, move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let r = rt.block_on(async {
            tokio::time::timeout(limit, f()).await.unwrap_or_else(|_| {
                Err(format!(
                    "did not finish within {} s (hang?)",
                    limit.as_secs()
                ))
            })
        });
        rt.shutdown_timeout(Duration::from_secs(2));
        r
    })
}

/// Wait for both sides; returns the receiver's result and the sent byte count.
async fn both<R: Send + 'static>(
    rx: std::thread::JoinHandle<Result<R, String>>,
    tx: std::thread::JoinHandle<Result<u64, String>>,
) -> Result<(R, u64), String> {
    tokio::task::spawn_blocking(move || {
        let (r, t) = (join(rx), join(tx));
        Ok((
            r.map_err(|e| format!("receiving side: {e}"))?,
            t.map_err(|e| format!("sending side: {e}"))?,
        ))
    })
    .await
    .map_err(|j| j.to_string())?
}

/// Receive-side throughput, not counting the first `warm` after the first byte.
struct Meter {
    warm: Duration,
    first: Option<Instant>,
    mark: Option<(Instant, u64)>,
    v: Verifier,
}

impl Meter {
    fn new(warm: f64) -> Meter {
        Meter {
            warm: Duration::from_secs_f64(warm),
            first: None,
            mark: None,
            v: Verifier::default(),
        }
    }
    fn data(&mut self, d: &[u8]) -> Result<(), String> {
        self.v.check(d)?;
        let now = Instant::now();
        let first = *self.first.get_or_insert(now);
        if self.mark.is_none() && now - first >= self.warm {
            self.mark = Some((now, self.v.off));
        }
        Ok(())
    }
    /// (bytes received, MB/s after the warm-up) at EOF.
    fn end(&self) -> Result<(u64, f64), String> {
        let (t, b) = self
            .mark
            .ok_or("the transfer ended before the warm-up did")?;
        Ok((
            self.v.off,
            (self.v.off - b) as f64 / t.elapsed().as_secs_f64() / 1e6,
        ))
    }
}

fn check(what: &str, got: u64, sent: u64, mbs: f64) -> Out {
    if got != sent {
        return Err(format!(
            "{what} long fat link: received {got} bytes, sent {sent}"
        ));
    }
    Ok(vec![("MB/s", mbs)])
}

/// Scenario 9, raw TCP: one connection from namespace a to b, 64 KiB writes
/// for `secs`, every byte verified; MB/s after the first `warm` seconds.
pub async fn tcp_bulk(link: Arc<Link>, secs: f64, warm: f64) -> Out {
    let limit = Duration::from_secs_f64(secs * 2.0 + 30.0);
    let (ep_tx, ep_rx) = tokio::sync::oneshot::channel();
    let rx = side(&link.ns[1], limit, move || async move {
        let l = tokio::net::TcpListener::bind((ADDR_B, 0))
            .await
            .map_err(|e| format!("tcp bind: {e}"))?;
        let _ = ep_tx.send(l.local_addr().map_err(|e| e.to_string())?);
        let (mut s, _) = l.accept().await.map_err(|e| format!("tcp accept: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut m = Meter::new(warm);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = s
                .read(&mut buf)
                .await
                .map_err(|e| format!("tcp read: {e}"))?;
            if n == 0 {
                break;
            }
            m.data(&buf[..n]).map_err(|e| format!("tcp: {e}"))?;
        }
        let r = m.end()?;
        drop(s); // the sender reads this EOF
        Ok(r)
    });
    let tx = side(&link.ns[0], limit, move || async move {
        let addr = ep_rx
            .await
            .map_err(|_| "tcp: no listener address".to_string())?;
        let mut c = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("tcp connect: {e}"))?;
        c.set_nodelay(true).map_err(|e| e.to_string())?;
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut off = 0u64;
        while Instant::now() < end {
            c.write_all(&expected(off, WRITE))
                .await
                .map_err(|e| format!("tcp write: {e}"))?;
            off += WRITE as u64;
        }
        c.shutdown()
            .await
            .map_err(|e| format!("tcp shutdown: {e}"))?;
        let _ = c.read(&mut [0u8; 1]).await; // until the receiver has everything
        Ok(off)
    });
    let ((got, mbs), sent) = both(rx, tx).await?;
    check("tcp", got, sent, mbs)
}

fn peer(name: &str, key: &str, keys: &str) -> Result<Peer, String> {
    let p = Peer::new();
    let e = |err: streamkit_core::Error| format!("streamkit options: {err}");
    p.set_option_str(PeerOption::Name, name).map_err(e)?;
    p.set_option_str(PeerOption::PrivateKey, key).map_err(e)?;
    p.set_option_str(PeerOption::AuthorizedKeys, keys)
        .map_err(e)?;
    Ok(p)
}

fn public(key: &str) -> Result<String, String> {
    russh::keys::decode_secret_key(key, None)
        .map_err(|e| e.to_string())?
        .public_key()
        .to_openssh()
        .map_err(|e| e.to_string())
}

/// Scenario 9, streamkit: one channel (default options, so the default
/// flow-control window and its auto-tuning) from namespace a to b, as
/// `tcp_bulk`; also reports the receiver's window at the end of the transfer.
pub async fn sk_bulk(link: Arc<Link>, secs: f64, warm: f64) -> Out {
    let limit = Duration::from_secs_f64(secs * 2.0 + 30.0);
    let (skey, ckey) = (
        streamkit_core::generate_key(),
        streamkit_core::generate_key(),
    );
    let keys = format!("{}\n{}\n", public(&skey)?, public(&ckey)?);
    let keys2 = keys.clone();
    let (ep_tx, ep_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let e = |ctx: &'static str| move |err: streamkit_core::Error| format!("streamkit {ctx}: {err}");
    let rx = side(&link.ns[1], limit, move || async move {
        let s = peer("server", &skey, &keys)?;
        let r = async {
            let _ = ep_tx.send(
                s.bind(&format!("tcp://{ADDR_B}:0"))
                    .await
                    .map_err(e("bind"))?,
            );
            let ch = tokio::time::timeout(Duration::from_secs(30), s.accept())
                .await
                .map_err(|_| "streamkit accept timed out".to_string())?
                .map_err(e("accept"))?;
            let mut m = Meter::new(warm);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = ch.read(&mut buf).await.map_err(e("read"))?;
                if n == 0 {
                    break;
                }
                m.data(&buf[..n])
                    .map_err(|err| format!("streamkit: {err}"))?;
            }
            let (got, mbs) = m.end()?;
            Ok((got, mbs, ch.receive_window()))
        }
        .await;
        let _ = done_tx.send(()); // the sender shuts down only after this
        let _ = s.shutdown().await;
        r
    });
    let tx = side(&link.ns[0], limit, move || async move {
        let ep = ep_rx
            .await
            .map_err(|_| "streamkit: no bound endpoint".to_string())?;
        let c = peer("client", &ckey, &keys2)?;
        let r = async {
            c.connect(&ep).await.map_err(e("connect"))?;
            let a = c.open("server", "lfl", &[]).await.map_err(e("open"))?;
            let end = Instant::now() + Duration::from_secs_f64(secs);
            let mut off = 0u64;
            while Instant::now() < end {
                a.write_bytes(expected(off, WRITE))
                    .await
                    .map_err(e("write"))?;
                off += WRITE as u64;
            }
            a.close_write().await.map_err(e("close_write"))?;
            Ok(off)
        }
        .await;
        if r.is_ok() {
            let _ = done_rx.await;
        }
        let _ = c.shutdown().await;
        r
    });
    let ((got, mbs, window), sent) = both(rx, tx).await?;
    let mut out = check("streamkit", got, sent, mbs)?;
    out.push(("receive window at the end, KiB", window as f64 / 1024.0));
    Ok(out)
}
