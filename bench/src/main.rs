//! streamkit-bench: streamkit against raw TCP, bare russh, OpenSSH and
//! ZeroMQ, side by side in one run (issue 8, and the inproc part of issue 3).
//!
//! Every scenario runs each of its variants in turn, `--reps` times
//! (alternating: A B C A B C ...), and the table shows the median with the
//! min and max over those runs, plus streamkit/baseline ratios. Every byte and
//! frame is verified; any correctness failure makes the exit status 1.
//! See bench/README.md.

mod bare;
mod bindings;
mod netem;
mod openssh;
mod sk;
mod tcp;
mod util;
#[cfg(feature = "zmq")]
mod zmqb;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use util::{max, median, min};

#[global_allocator]
static ALLOC: util::CountingAlloc = util::CountingAlloc;

/// One run's figures: (metric, value).
pub type Out = Result<Vec<(&'static str, f64)>, String>;
type Job = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Out> + Send>>>;

#[derive(Debug, Clone)]
struct Cfg {
    quick: bool,
    reps: usize,
    bulk: u64,
    secs: f64,
    rtt_n: usize,
    rtt_warm: usize,
    churn_secs: f64,
    churn_conc: usize,
    setup_n: usize,
    ssh_setup_n: usize,
    many_ch: usize,
    many_per: u64,
    timeout: Duration,
    only: Option<Vec<String>>,
    markdown: Option<String>,
    no_openssh: bool,
    variant: Option<String>,
    lfl_secs: f64,
    lfl_warm: f64,
    no_netem: bool,
    /// Scenario 10: connection counts, one variant each.
    conns: Vec<usize>,
}

/// Scenario 10: client handshakes in flight at once.
const SCALE_CONCURRENCY: usize = 16;

const USAGE: &str =
    "usage: streamkit-bench [--quick] [--markdown FILE] [--reps N] [--bulk-mib N] [--secs S]
       [--rtt N] [--churn-conc N] [--setup N] [--channels N] [--channel-kib N]
       [--only 1,2,3,4,5,6,7,8,9,10] [--variant SUBSTRING] [--no-openssh] [--timeout S]
       [--netem-secs S] [--no-netem] [--main-thread] [--connections N,N]";

fn parse_args() -> Result<Cfg, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut c = if quick {
        Cfg {
            quick,
            reps: 2,
            bulk: 32 << 20,
            secs: 0.3,
            rtt_n: 500,
            rtt_warm: 100,
            churn_secs: 0.3,
            churn_conc: 200,
            setup_n: 3,
            ssh_setup_n: 2,
            many_ch: 200,
            many_per: 128 << 10,
            timeout: Duration::from_secs(30),
            only: None,
            markdown: None,
            no_openssh: false,
            variant: None,
            lfl_secs: 2.0,
            lfl_warm: 0.5,
            no_netem: false,
            conns: vec![200],
        }
    } else {
        Cfg {
            quick,
            reps: 3,
            bulk: 2 << 30,
            secs: 5.0,
            rtt_n: 10_000,
            rtt_warm: 1_000,
            churn_secs: 5.0,
            churn_conc: 1000,
            setup_n: 20,
            ssh_setup_n: 10,
            many_ch: 1000,
            many_per: 1 << 20,
            timeout: Duration::from_secs(180),
            only: None,
            markdown: None,
            no_openssh: false,
            variant: None,
            lfl_secs: 10.0,
            lfl_warm: 2.0,
            no_netem: false,
            conns: vec![1000, 10_000],
        }
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let num = |s: String| {
            s.parse::<f64>()
                .map_err(|_| format!("not a number: {s}\n{USAGE}"))
        };
        match a.as_str() {
            "--quick" => {}
            "--markdown" => c.markdown = Some(val("--markdown")?),
            "--reps" => c.reps = num(val("--reps")?)?.max(1.0) as usize,
            "--bulk-mib" => c.bulk = (num(val("--bulk-mib")?)? * 1048576.0) as u64,
            "--secs" => {
                c.secs = num(val("--secs")?)?;
                c.churn_secs = c.secs;
            }
            "--rtt" => c.rtt_n = num(val("--rtt")?)? as usize,
            "--churn-conc" => c.churn_conc = num(val("--churn-conc")?)? as usize,
            "--setup" => c.setup_n = num(val("--setup")?)? as usize,
            "--channels" => c.many_ch = num(val("--channels")?)? as usize,
            "--connections" => {
                c.conns = val("--connections")?
                    .split(',')
                    .map(|x| num(x.to_string()).map(|n| n.max(1.0) as usize))
                    .collect::<Result<_, _>>()?
            }
            "--channel-kib" => c.many_per = (num(val("--channel-kib")?)? * 1024.0) as u64,
            "--timeout" => c.timeout = Duration::from_secs_f64(num(val("--timeout")?)?),
            "--only" => {
                c.only = Some(
                    val("--only")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                )
            }
            "--no-openssh" => c.no_openssh = true,
            "--no-netem" => c.no_netem = true,
            "--main-thread" => MAIN_THREAD.store(true, std::sync::atomic::Ordering::Relaxed),
            "--netem-secs" => c.lfl_secs = num(val("--netem-secs")?)?,
            "--variant" => c.variant = Some(val("--variant")?),
            "--version" => {
                println!(
                    "streamkit-bench built from git {} ({})",
                    env!("SKB_GIT"),
                    env!("SKB_SRC")
                );
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    c.lfl_warm = c.lfl_warm.min(c.lfl_secs / 4.0);
    if c.bulk == 0 || c.many_ch == 0 || c.many_per == 0 {
        return Err("sizes must be positive".into());
    }
    Ok(c)
}

struct Row {
    scen: &'static str,
    title: &'static str,
    variant: String,
    primary: bool,
    metric: &'static str,
    vals: Vec<f64>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn record(
        &mut self,
        scen: &'static str,
        title: &'static str,
        variant: &str,
        primary: bool,
        out: Out,
    ) {
        match out {
            Ok(v) => {
                for (metric, x) in v {
                    let i =
                        match self.rows.iter().position(|r| {
                            r.scen == scen && r.variant == variant && r.metric == metric
                        }) {
                            Some(i) => i,
                            None => {
                                self.rows.push(Row {
                                    scen,
                                    title,
                                    variant: variant.to_string(),
                                    primary,
                                    metric,
                                    vals: vec![],
                                });
                                self.rows.len() - 1
                            }
                        };
                    self.rows[i].vals.push(x);
                }
            }
            Err(e) => {
                eprintln!("!! FAILED scenario {scen} [{variant}]: {e}");
                self.failures
                    .push(format!("scenario {scen} ({title}) [{variant}]: {e}"));
            }
        }
    }

    fn row(&self, scen: &str, variant: &str, metric: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.scen == scen && r.variant == variant && r.metric == metric)
    }

    fn primary(&self, scen: &str, metric: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.scen == scen && r.primary && r.metric == metric)
    }

    /// streamkit median / this row's median.
    fn ratio(&self, r: &Row) -> Option<f64> {
        if r.primary {
            return None;
        }
        let p = self.primary(r.scen, r.metric)?;
        Some(median(&p.vals) / median(&r.vals))
    }

    fn ratio_of(&self, scen: &str, variant: &str, metric: &str) -> Option<f64> {
        self.ratio(self.row(scen, variant, metric)?)
    }

    fn med(&self, scen: &str, variant: &str, metric: &str) -> Option<f64> {
        self.row(scen, variant, metric).map(|r| median(&r.vals))
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{:.0}", x)
    } else if a >= 10.0 {
        format!("{:.1}", x)
    } else {
        format!("{:.2}", x)
    }
}

/// Run every variant `reps` times, alternating.
async fn scenario(
    rep: &mut Report,
    cfg: &Cfg,
    scen: &'static str,
    title: &'static str,
    variants: Vec<(String, Job)>,
) {
    let variants: Vec<(String, Job)> = match &cfg.variant {
        Some(v) => variants
            .into_iter()
            .filter(|(n, _)| n.contains(v.as_str()))
            .collect(),
        None => variants,
    };
    eprintln!("== scenario {scen}: {title}");
    for r in 0..cfg.reps {
        for (i, (name, job)) in variants.iter().enumerate() {
            let t = Instant::now();
            let out = match tokio::time::timeout(cfg.timeout, job()).await {
                Ok(o) => o,
                Err(_) => Err(format!(
                    "did not finish within {} s (hang?)",
                    cfg.timeout.as_secs_f64()
                )),
            };
            if let Ok(v) = &out {
                let s: Vec<String> = v
                    .iter()
                    .map(|(m, x)| format!("{m} {}", fmt_num(*x)))
                    .collect();
                eprintln!(
                    "   run {}/{} {name:<28} {}  ({:.1} s)",
                    r + 1,
                    cfg.reps,
                    s.join(", "),
                    t.elapsed().as_secs_f64()
                );
            }
            rep.record(scen, title, name, i == 0 && cfg.variant.is_none(), out);
        }
    }
}

fn job<F, Fut>(f: F) -> Job
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Out> + Send + 'static,
{
    Box::new(move || {
        let fut = f();
        if MAIN_THREAD.load(std::sync::atomic::Ordering::Relaxed) {
            Box::pin(fut)
        } else {
            // A task on the runtime's workers, as in a tokio application.
            Box::pin(async move {
                tokio::spawn(fut)
                    .await
                    .unwrap_or_else(|j| Err(j.to_string()))
            })
        }
    })
}

/// `--main-thread`: run each tokio-based variant on the bench's main thread
/// (`block_on`) instead of as a task on the runtime; its measuring side (the
/// bulk reader, the round-trip client) then pays an OS-thread wake-up per
/// message, as a blocking client thread would.
static MAIN_THREAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(feature = "zmq")]
fn blocking<F>(f: F) -> Job
where
    F: Fn() -> Out + Send + Sync + Clone + 'static,
{
    Box::new(move || {
        let f = f.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(f)
                .await
                .map_err(|e| format!("zmq thread: {e}"))?
        })
    })
}

fn wants(cfg: &Cfg, s: &str) -> bool {
    cfg.only.as_ref().is_none_or(|o| o.iter().any(|x| x == s))
}

fn cmd_out(prog: &str, args: &[&str]) -> String {
    std::process::Command::new(prog)
        .args(args)
        .output()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s).trim().to_string()
        })
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn has_aes() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "aes"))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(sk::SCALE_CLIENTS_ARG) {
        // scenario 10's client process
        let code = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => match rt.block_on(sk::scale_clients(&args[1..])) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("scale clients: {e}");
                    1
                }
            },
            Err(e) => {
                eprintln!("tokio runtime: {e}");
                1
            }
        };
        std::process::exit(code);
    }
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(run(cfg));
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}

async fn run(cfg: Cfg) -> i32 {
    let started = Instant::now();
    let load0 = loadavg();
    let mut rep = Report::default();
    let _ = util::pattern();
    let c = cfg.clone();

    #[cfg(feature = "zmq")]
    let zmq_note = format!(
        "ZeroMQ baselines: `zmq` crate 0.10 over the system {} (cargo feature `zmq`)",
        zmqb::version()
    );
    #[cfg(not(feature = "zmq"))]
    let zmq_note =
        "ZeroMQ rows skipped: built without the `zmq` cargo feature (see bench/README.md)"
            .to_string();
    rep.notes.push(zmq_note);

    let rig = if cfg.no_openssh {
        rep.notes.push("OpenSSH rows skipped: --no-openssh".into());
        None
    } else if let Some(why) = openssh::Rig::unavailable() {
        rep.notes.push(why);
        None
    } else {
        match openssh::Rig::new() {
            Ok(r) => {
                rep.notes.push(format!(
                    "OpenSSH baseline: {} with a private `sshd -i` per connection on a loopback port, aes128-gcm@openssh.com, ed25519",
                    cmd_out("ssh", &["-V"])
                ));
                Some(std::sync::Arc::new(r))
            }
            Err(e) => {
                rep.notes
                    .push(format!("OpenSSH rows skipped: could not prepare sshd: {e}"));
                None
            }
        }
    };

    if wants(&cfg, "1") {
        let total = c.bulk;
        let mut v: Vec<(String, Job)> = vec![
            ("streamkit".into(), job(move || sk::bulk("tcp", total))),
            ("raw TCP".into(), job(move || tcp::bulk(total))),
            ("bare russh".into(), job(move || bare::bulk(total))),
        ];
        if let Some(r) = &rig {
            let r = r.clone();
            v.push((
                "OpenSSH".into(),
                job(move || {
                    let r = r.clone();
                    async move { r.bulk(total).await }
                }),
            ));
        }
        scenario(&mut rep, &cfg, "1", "bulk, one channel, 64 KiB writes", v).await;
    }
    if wants(&cfg, "2") {
        let secs = c.secs;
        #[allow(unused_mut)]
        let mut v: Vec<(String, Job)> =
            vec![("streamkit".into(), job(move || sk::frames("tcp", secs)))];
        #[cfg(feature = "zmq")]
        v.push((
            "ZeroMQ PUSH/PULL tcp".into(),
            blocking(move || zmqb::frames("tcp", secs)),
        ));
        scenario(&mut rep, &cfg, "2", "64-byte frames one way", v).await;
    }
    if wants(&cfg, "3") {
        let (w, n) = (c.rtt_warm, c.rtt_n);
        #[allow(unused_mut)]
        let mut v: Vec<(String, Job)> = vec![
            ("streamkit".into(), job(move || sk::rtt("tcp", w, n))),
            ("raw TCP echo".into(), job(move || tcp::rtt(w, n))),
            ("bare russh echo".into(), job(move || bare::rtt(w, n))),
        ];
        #[cfg(feature = "zmq")]
        v.push((
            "ZeroMQ REQ/REP tcp".into(),
            blocking(move || zmqb::rtt("tcp", w, n)),
        ));
        scenario(&mut rep, &cfg, "3", "64-byte echo round trip", v).await;
    }
    if wants(&cfg, "4") {
        let (s, k) = (c.churn_secs, c.churn_conc);
        let v: Vec<(String, Job)> = vec![
            ("streamkit".into(), job(move || sk::churn("tcp", s, 0))),
            ("bare russh".into(), job(move || bare::churn(s, 0))),
        ];
        scenario(
            &mut rep,
            &cfg,
            "4a",
            "channel churn, sequential: open + first frame echoed + close",
            v,
        )
        .await;
        let v: Vec<(String, Job)> = vec![
            ("streamkit".into(), job(move || sk::churn("tcp", s, k))),
            ("bare russh".into(), job(move || bare::churn(s, k))),
        ];
        scenario(
            &mut rep,
            &cfg,
            "4b",
            "channel churn, all at once: open + first frame echoed + close",
            v,
        )
        .await;
    }
    if wants(&cfg, "5") {
        let (n, ns) = (c.setup_n, c.ssh_setup_n);
        let mut v: Vec<(String, Job)> = vec![
            ("streamkit".into(), job(move || sk::setup(n))),
            ("bare russh".into(), job(move || bare::setup(n))),
        ];
        if let Some(r) = &rig {
            let r = r.clone();
            v.push((
                "OpenSSH `ssh host true`".into(),
                job(move || {
                    let r = r.clone();
                    async move { r.setup(ns).await }
                }),
            ));
        }
        scenario(
            &mut rep,
            &cfg,
            "5",
            "connection setup (connect + kex + auth + hello)",
            v,
        )
        .await;
    }
    if wants(&cfg, "6") {
        let total = c.bulk;
        #[allow(unused_mut)]
        let mut v: Vec<(String, Job)> = vec![(
            "streamkit inproc".into(),
            job(move || sk::bulk("inproc", total)),
        )];
        #[cfg(feature = "zmq")]
        v.push((
            "ZeroMQ inproc PUSH/PULL".into(),
            blocking(move || zmqb::bulk("inproc", total)),
        ));
        scenario(&mut rep, &cfg, "6a", "inproc bulk, 64 KiB writes", v).await;
        let secs = c.secs;
        #[allow(unused_mut)]
        let mut v: Vec<(String, Job)> = vec![(
            "streamkit inproc".into(),
            job(move || sk::frames("inproc", secs)),
        )];
        #[cfg(feature = "zmq")]
        v.push((
            "ZeroMQ inproc PUSH/PULL".into(),
            blocking(move || zmqb::frames("inproc", secs)),
        ));
        scenario(&mut rep, &cfg, "6b", "inproc 64-byte frames one way", v).await;
        let (w, n) = (c.rtt_warm, c.rtt_n);
        #[allow(unused_mut)]
        let mut v: Vec<(String, Job)> = vec![(
            "streamkit inproc".into(),
            job(move || sk::rtt("inproc", w, n)),
        )];
        #[cfg(feature = "zmq")]
        v.push((
            "ZeroMQ inproc REQ/REP".into(),
            blocking(move || zmqb::rtt("inproc", w, n)),
        ));
        scenario(&mut rep, &cfg, "6c", "inproc 64-byte echo round trip", v).await;
    }
    if wants(&cfg, "7") {
        bindings::run(&mut rep, &cfg).await;
    }
    if wants(&cfg, "8") {
        let (nch, per) = (c.many_ch, c.many_per);
        let v: Vec<(String, Job)> = vec![
            (
                format!("streamkit {nch} channels"),
                job(move || sk::many(nch, per)),
            ),
            (
                "streamkit 1 channel, same total".into(),
                job(move || sk::bulk("tcp", nch as u64 * per)),
            ),
        ];
        scenario(
            &mut rep,
            &cfg,
            "8",
            "many channels at once over one connection",
            v,
        )
        .await;
    }
    if wants(&cfg, "9") {
        let title = "long fat link, 50 ms RTT: one channel, 64 KiB writes";
        match if cfg.no_netem {
            Err("--no-netem".to_string())
        } else {
            netem::Link::new()
        } {
            Err(why) => {
                eprintln!("== scenario 9: {title}: skipped: {why}");
                rep.notes
                    .push(format!("scenario 9 ({title}) skipped: {why}"));
            }
            Ok(link) => {
                let link = std::sync::Arc::new(link);
                let (s, w) = (c.lfl_secs, c.lfl_warm);
                let (l1, l2) = (link.clone(), link.clone());
                let v: Vec<(String, Job)> = vec![
                    (
                        "streamkit".into(),
                        job(move || netem::sk_bulk(l1.clone(), s, w)),
                    ),
                    (
                        "raw TCP".into(),
                        job(move || netem::tcp_bulk(l2.clone(), s, w)),
                    ),
                ];
                scenario(&mut rep, &cfg, "9", title, v).await;
                rep.notes.push(format!(
                    "scenario 9: {}; each run sends for {s} s, MB/s counted after the first {w} s",
                    link.note()
                ));
            } // the namespaces are deleted here (and on unwinding)
        }
    }

    if wants(&cfg, "10") {
        let mut fit = Vec::new();
        for &n in &c.conns {
            let limit = sk::raise_nofile(sk::scale_fds(n));
            if limit >= sk::scale_fds(n) {
                fit.push(n);
            } else {
                rep.notes.push(format!(
                    "scenario 10 with {n} connections skipped: it needs {} descriptors and the limit is {limit} (raise it with ulimit -Hn, or run as root)",
                    sk::scale_fds(n)
                ));
            }
        }
        let v: Vec<(String, Job)> = fit
            .iter()
            .map(|&n| {
                (
                    format!("streamkit {n} connections"),
                    job(move || sk::scale(n, SCALE_CONCURRENCY)),
                )
            })
            .collect();
        scenario(
            &mut rep,
            &cfg,
            "10",
            "many clients to one bound peer: handshakes, memory, p99 under a flood",
            v,
        )
        .await;
        rep.notes.push(format!(
            "scenario 10: {SCALE_CONCURRENCY} connects in flight (under MAX_STARTUPS_PER_SOURCE) from a client process on the same 2 cores, so handshakes/s includes the clients' CPU; memory is the server's alone"
        ));
    }

    let elapsed = started.elapsed().as_secs_f64();
    let load1 = loadavg();
    let text = render(&rep, &cfg, &load0, &load1, elapsed);
    println!("{text}");
    if let Some(path) = &cfg.markdown {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("writing {path}: {e}");
            return 2;
        }
        eprintln!("wrote {path}");
    }
    if rep.failures.is_empty() {
        0
    } else {
        eprintln!("{} correctness failure(s)", rep.failures.len());
        1
    }
}

fn render(rep: &Report, cfg: &Cfg, load0: &str, load1: &str, elapsed: f64) -> String {
    let mut s = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(s, "## streamkit-bench results\n");
    let _ = writeln!(s, "- command: `streamkit-bench {}`", args.join(" "));
    let _ = writeln!(
        s,
        "- streamkit-core {}, built from git {} ({})",
        streamkit_core::VERSION,
        env!("SKB_GIT"),
        env!("SKB_SRC")
    );
    let _ = writeln!(
        s,
        "- machine: {} cores (nproc), {}, AES instructions: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model(),
        if has_aes() { "yes" } else { "no" }
    );
    let _ = writeln!(
        s,
        "- load average (1/5/15 min): {load0} at start, {load1} at end; run took {elapsed:.0} s"
    );
    let _ = writeln!(
        s,
        "- {} runs per variant, alternating; bulk {} MiB; frames {} s; {} round trips after {} warm-up; churn {} s sequential and {} concurrent; setup median of {} (OpenSSH {}); {} channels × {} KiB{}",
        cfg.reps,
        cfg.bulk >> 20,
        cfg.secs,
        cfg.rtt_n,
        cfg.rtt_warm,
        cfg.churn_secs,
        cfg.churn_conc,
        cfg.setup_n,
        cfg.ssh_setup_n,
        cfg.many_ch,
        cfg.many_per >> 10,
        if cfg.quick { " (--quick)" } else { "" }
    );
    for n in &rep.notes {
        let _ = writeln!(s, "- {n}");
    }
    let _ = writeln!(s, "\nmedian (min … max) over the runs; ratio = streamkit ÷ that row (for µs/ms/CPU lower is better)\n");
    let _ = writeln!(
        s,
        "| scenario | variant | metric | median | min … max | streamkit ÷ this |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|");
    let mut last = "";
    for r in &rep.rows {
        let scen = if r.scen != last {
            format!("{} {}", r.scen, r.title)
        } else {
            String::new()
        };
        last = r.scen;
        let ratio = rep.ratio(r).map(|x| format!("{x:.2}×")).unwrap_or_default();
        let _ = writeln!(
            s,
            "| {scen} | {} | {} | {} | {} … {} | {ratio} |",
            r.variant,
            r.metric,
            fmt_num(median(&r.vals)),
            fmt_num(min(&r.vals)),
            fmt_num(max(&r.vals))
        );
    }
    let _ = writeln!(s, "\n### targets (issues 8 and 3)\n");
    let _ = writeln!(s, "| target | measured | verdict |");
    let _ = writeln!(s, "|---|---:|---|");
    let nch = format!("streamkit {} channels", cfg.many_ch);
    let mut targets: Vec<(&str, Option<f64>, bool, f64)> = vec![
        (
            "bulk ≥ 0.9 × bare russh (same cipher)",
            rep.ratio_of("1", "bare russh", "MB/s"),
            true,
            0.9,
        ),
        (
            "bulk ≥ 3 × OpenSSH",
            rep.ratio_of("1", "OpenSSH", "MB/s"),
            true,
            3.0,
        ),
        (
            "64-byte frames/s ≥ 1.0 × ZeroMQ PUSH/PULL",
            rep.ratio_of("2", "ZeroMQ PUSH/PULL tcp", "frames/s"),
            true,
            1.0,
        ),
        (
            "RTT p50 ≤ 1.1 × raw TCP echo",
            rep.ratio_of("3", "raw TCP echo", "p50 µs"),
            false,
            1.1,
        ),
        (
            "connection setup ≤ 2 ms",
            rep.med("5", "streamkit", "setup ms"),
            false,
            2.0,
        ),
        (
            "inproc bulk ≥ 5 GB/s (MB/s)",
            rep.med("6a", "streamkit inproc", "MB/s"),
            true,
            5000.0,
        ),
        (
            "inproc frames/s ≥ 1.0 × ZeroMQ inproc",
            rep.ratio_of("6b", "ZeroMQ inproc PUSH/PULL", "frames/s"),
            true,
            1.0,
        ),
        (
            "inproc RTT p50 ≤ 5 µs",
            rep.med("6c", "streamkit inproc", "p50 µs"),
            false,
            5.0,
        ),
        (
            "1000-channel aggregate ≥ 0.8 × one channel",
            rep.ratio_of("8", "streamkit 1 channel, same total", "MB/s"),
            true,
            0.8,
        ),
        (
            "idle memory ≤ 64 KiB per channel (heap, both ends counted)",
            rep.med("8", &nch, "idle heap KiB/channel (both ends)"),
            false,
            64.0,
        ),
        (
            "long fat link (50 ms RTT): one channel ≥ 0.8 × raw TCP",
            rep.ratio_of("9", "raw TCP", "MB/s"),
            true,
            0.8,
        ),
    ];
    targets.extend(bindings::targets(rep));
    for (name, v, higher, thr) in targets {
        let (m, verdict) = match v {
            None => ("-".to_string(), "not measured".to_string()),
            Some(x) => {
                let ok = if higher { x >= thr } else { x <= thr };
                (
                    fmt_num(x),
                    if ok {
                        "met".into()
                    } else {
                        "**MISSED**".into()
                    },
                )
            }
        };
        let _ = writeln!(s, "| {name} | {m} | {verdict} |");
    }
    if rep.failures.is_empty() {
        let _ = writeln!(
            s,
            "\nCorrectness: every byte and frame verified, no failures."
        );
    } else {
        let _ = writeln!(s, "\n### CORRECTNESS FAILURES\n");
        for f in &rep.failures {
            let _ = writeln!(s, "- {f}");
        }
    }
    s
}
