//! Scenario 7: scenarios 1-3 through the bindings, each as a subprocess,
//! alternating with the Rust core in the same minutes.
//!
//! - C (the C ABI): `bench/c/bench.c`, compiled here with `cc` against the
//!   static `libstreamkit.a` of this target directory (built with
//!   `cargo build -p streamkit-ffi` in the bench binary's own profile).
//! - Go: `bench/go` (a main package using `bindings/go`), built here with
//!   `go build` (pkg-config mode, flags from `CGO_LDFLAGS`) against the same `libstreamkit.a`.
//! - Python: the existing `bindings/python/bench/bench.py`, driven through
//!   its per-side roles (`--role sk-recv` / `sk-send` ..., one process per
//!   side), for streamkit, streamkit.aio and pyzmq PUSH/PULL (plaintext,
//!   and with CURVE encryption where its libzmq has it); the
//!   interpreter is `$SK_PYTHON`, else `build/pyvenv-test/bin/python` of
//!   this checkout.
//!
//! C and Go run one process with two peers (a bound "server" and a
//! connected "client", their own keys, trusting each other) and one channel;
//! writer and reader are two threads (goroutines). They verify every byte
//! and frame like the Rust scenarios and print `RESULT metric value ...`.
//! A language whose toolchain or build is missing is skipped with a note.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::FRAME;
use crate::{job, scenario, sk, Cfg, Job, Out, Report};

/// Name of the Rust-core variant (the reference of every scenario-7 row).
const CORE: &str = "Rust core (streamkit-core)";
const C: &str = "C ABI";
const GO: &str = "Go";
const PY: &str = "Python streamkit";
const PY_AIO: &str = "Python streamkit.aio";
const PYZMQ: &str = "pyzmq PUSH/PULL";
const PYZMQ_CURVE: &str = "pyzmq PUSH/PULL + CURVE";

/// System libraries `libstreamkit.a` needs (bindings/go/link.go).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn run_cmd(cmd: &mut std::process::Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(6).collect();
    Err(format!(
        "{:?} failed ({}): {}",
        cmd.get_program(),
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}

fn have(prog: &str) -> bool {
    std::process::Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || std::process::Command::new(prog)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
}

struct Python {
    python: PathBuf,
    script: PathBuf,
    /// (receiver key, sender key, receiver public key, sender public key)
    keys: [String; 4],
    zmq: bool,
    /// pyzmq's libzmq has CURVE (encrypted) sockets.
    curve: bool,
}

/// The built programs, and notes on what was skipped or how it was built.
struct Tools {
    dir: PathBuf,
    c: Option<PathBuf>,
    go: Option<PathBuf>,
    py: Option<Python>,
    notes: Vec<String>,
}

impl Drop for Tools {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Build libstreamkit (this binary's profile and target directory), then
/// the C and Go programs; find Python. Blocking.
fn prepare() -> Tools {
    let root = root();
    let dir = std::env::temp_dir().join(format!("streamkit-bench-bindings-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut t = Tools {
        dir: dir.clone(),
        c: None,
        go: None,
        py: None,
        notes: vec![],
    };

    // libstreamkit.a next to this executable: <target>/<profile>/streamkit-bench.
    let exe = std::env::current_exe().unwrap_or_default();
    let prof_dir = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    let profile = prof_dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("release")
        .to_string();
    let target = prof_dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lib = prof_dir.join("libstreamkit.a");
    let t0 = Instant::now();
    let mut cargo =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "-q", "-p", "streamkit-ffi"]);
    if profile == "release" {
        cargo.arg("--release");
    }
    let lib_ok = match run_cmd(&mut cargo) {
        Ok(()) if lib.exists() => {
            t.notes.push(format!(
                "scenario 7: C and Go link {} (`cargo build{} -p streamkit-ffi`, {:.0} s){}",
                lib.display(),
                if profile == "release" {
                    " --release"
                } else {
                    ""
                },
                t0.elapsed().as_secs_f64(),
                if profile == "release" {
                    ""
                } else {
                    "; a debug build: figures are not meaningful"
                }
            ));
            true
        }
        Ok(()) => {
            t.notes.push(format!(
                "scenario 7: C and Go rows skipped: {} missing after the cargo build",
                lib.display()
            ));
            false
        }
        Err(e) => {
            t.notes.push(format!(
                "scenario 7: C and Go rows skipped: building libstreamkit failed: {e}"
            ));
            false
        }
    };
    let include = root.join("include");

    if lib_ok {
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        if !have(&cc) {
            t.notes.push(format!(
                "scenario 7: C rows skipped: no C compiler (`{cc}`)"
            ));
        } else {
            let exe = dir.join("sk-bench-c");
            let mut cmd = std::process::Command::new(&cc);
            cmd.args(["-O2", "-o"])
                .arg(&exe)
                .arg(root.join("bench/c/bench.c"))
                .arg("-I")
                .arg(&include)
                .arg(&lib)
                .args(NATIVE_LIBS);
            match run_cmd(&mut cmd) {
                Ok(()) => t.c = Some(exe),
                Err(e) => t.notes.push(format!("scenario 7: C rows skipped: {e}")),
            }
        }
        if !have("go") {
            t.notes
                .push("scenario 7: Go rows skipped: no Go toolchain (`go`) on PATH".into());
        } else {
            let exe = dir.join("sk-bench-go");
            let mut ldflags = vec![lib.display().to_string()];
            ldflags.extend(NATIVE_LIBS.iter().map(|s| s.to_string()));
            let mut cmd = std::process::Command::new("go");
            cmd.current_dir(root.join("bench/go"))
                .env("CGO_ENABLED", "1")
                .env("PKG_CONFIG", "true") // the default link mode asks pkg-config; the flags come from here
                .env("CGO_CFLAGS", format!("-O2 -I{}", include.display()))
                .env("CGO_LDFLAGS", ldflags.join(" "))
                .args(["build", "-o"])
                .arg(&exe)
                .arg(".");
            match run_cmd(&mut cmd) {
                Ok(()) => t.go = Some(exe),
                Err(e) => t.notes.push(format!("scenario 7: Go rows skipped: {e}")),
            }
        }
    }

    let python = std::env::var_os("SK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("build/pyvenv-test/bin/python"));
    let script = root.join("bindings/python/bench/bench.py");
    let probe = std::process::Command::new(&python)
        .args([
            "-c",
            "import streamkit, sys; print(streamkit.__version__, sys.version.split()[0])",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() && script.exists() => {
            let ver = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let zmq = std::process::Command::new(&python)
                .args(["-c", "import zmq; print(zmq.__version__, zmq.zmq_version(), 'curve' if zmq.has('curve') else 'no-curve')"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            match keys() {
                Ok(keys) => {
                    t.notes.push(format!(
                        "scenario 7: Python {} (streamkit {} as installed there) runs bindings/python/bench/bench.py, one process per side (round trips: 1,000 warm-up, then the count above); {}",
                        python.display(),
                        ver,
                        match &zmq {
                            Some(v) => format!("pyzmq {v}"),
                            None => "pyzmq not installed there: its rows are skipped".into(),
                        }
                    ));
                    let curve = zmq.as_deref().is_some_and(|v| v.ends_with(" curve"));
                    t.py = Some(Python { python, script, keys, zmq: zmq.is_some(), curve });
                }
                Err(e) => t.notes.push(format!("scenario 7: Python rows skipped: {e}")),
            }
        }
        _ => t.notes.push(format!(
            "scenario 7: Python rows skipped: {} cannot import streamkit (set SK_PYTHON, or run scripts/test-all.sh to create build/pyvenv-test)",
            python.display()
        )),
    }
    t
}

fn keys() -> Result<[String; 4], String> {
    let pubkey = |k: &str| {
        let p = streamkit_core::Peer::new();
        p.set_option_str(streamkit_core::PeerOption::PrivateKey, k)
            .map_err(|e| e.to_string())?;
        p.public_key().map_err(|e| e.to_string())
    };
    let (kr, ks) = (
        streamkit_core::generate_key(),
        streamkit_core::generate_key(),
    );
    let (pr, ps) = (pubkey(&kr)?, pubkey(&ks)?);
    Ok([kr, ks, pr, ps])
}

/// The metric names of the Rust rows, so that ratios line up.
fn metric(name: &str) -> Option<&'static str> {
    Some(match name {
        "MB/s" => "MB/s",
        "CPU_s" => "CPU s",
        "frames/s" => "frames/s",
        "p50_us" => "p50 µs",
        "p99_us" => "p99 µs",
        _ => return None,
    })
}

/// Run a C or Go bench program; parse its `RESULT` line.
async fn run_prog(exe: PathBuf, args: Vec<String>) -> Out {
    let out = tokio::process::Command::new(&exe)
        .args(&args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            exe.display(),
            args.join(" "),
            out.status,
            stderr.trim()
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line from {}: {stdout}", exe.display()))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    let mut v = vec![];
    for kv in w.chunks(2) {
        if let [k, x] = kv {
            if let (Some(m), Ok(x)) = (metric(k), x.parse::<f64>()) {
                v.push((m, x));
            }
        }
    }
    if v.is_empty() {
        return Err(format!("unparsable RESULT line: {line}"));
    }
    Ok(v)
}

/// One Python run of bench.py: receiver and sender processes; the
/// receiver prints its endpoint, then the figure (frames/s or MB/s,
/// timed from the first message to the last; for "rtt" it is the side that
/// measures, `count` round trips after 1,000 warm-up, and prints p50 and p99
/// in µs while the sender echoes).
async fn run_python(py: &Python, lib: &str, mode: &str, count: u64) -> Out {
    use tokio::io::AsyncBufReadExt;
    let [kr, ks, pr, ps] = &py.keys;
    let mut recv = tokio::process::Command::new(&py.python)
        .arg(&py.script)
        .args([
            "--role",
            &format!("{lib}-recv"),
            "--mode",
            mode,
            "--count",
            &count.to_string(),
        ])
        .env("SK_KEY", kr)
        .env("SK_TRUST", ps)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("python: {e}"))?;
    let stdout = recv.stdout.take().ok_or("python: no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ep = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("python receiver exited before binding")?;
    let send = tokio::process::Command::new(&py.python)
        .arg(&py.script)
        .args([
            "--role",
            &format!("{lib}-send"),
            "--mode",
            mode,
            "--count",
            &count.to_string(),
            "--endpoint",
            ep.trim(),
        ])
        .env("SK_KEY", ks)
        .env("SK_TRUST", pr)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("python sender: {e}"))?;
    let out = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let rc = recv.wait().await.map_err(|e| e.to_string())?;
    if !send.status.success() || !rc.success() {
        return Err(format!(
            "python {lib} {mode}: sender {} receiver {}: {}",
            send.status,
            rc,
            String::from_utf8_lossy(&send.stderr).trim()
        ));
    }
    let xs: Vec<f64> = out
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match (mode, xs.as_slice()) {
        ("rtt", [p50, p99]) => Ok(vec![("p50 µs", *p50), ("p99 µs", *p99)]),
        ("frames", [x]) => Ok(vec![("frames/s", *x)]),
        ("bulk", [x]) => Ok(vec![("MB/s", *x)]),
        _ => Err(format!("python {lib} {mode}: unparsable figures {out:?}")),
    }
}

fn prog_job(exe: &Option<PathBuf>, args: Vec<String>) -> Option<Job> {
    let exe = exe.clone()?;
    Some(job(move || run_prog(exe.clone(), args.clone())))
}

fn py_job(
    py: &std::sync::Arc<Option<Python>>,
    lib: &'static str,
    mode: &'static str,
    count: u64,
) -> Job {
    let py = py.clone();
    job(move || {
        let py = py.clone();
        async move {
            match py.as_ref() {
                Some(p) => run_python(p, lib, mode, count).await,
                None => Err("python is not available".into()),
            }
        }
    })
}

/// Scenario 7 (7a bulk, 7b frames, 7c round trip): the Rust core row first
/// (the reference), then C, Go and Python, alternating run by run.
pub(crate) async fn run(rep: &mut Report, cfg: &Cfg) {
    eprintln!("== scenario 7: building the C and Go bench programs, looking for Python");
    let mut tools = match tokio::task::spawn_blocking(prepare).await {
        Ok(t) => t,
        Err(e) => {
            rep.notes.push(format!("scenario 7 skipped: {e}"));
            return;
        }
    };
    rep.notes.append(&mut tools.notes);
    // Sizes: at most 1 GiB of bulk and 3 s of frames per run (7 runs three
    // languages besides the core; the default bench must stay under 10 min).
    let bulk = cfg.bulk.min(1 << 30);
    let secs = cfg.secs.min(3.0);
    let (warm, n) = (cfg.rtt_warm, cfg.rtt_n);
    rep.notes.push(format!(
        "scenario 7: bulk {} MiB, frames {secs} s (Python: a fixed count, about that long), {n} round trips after {warm}; {FRAME}-byte frames",
        bulk >> 20
    ));
    let py = std::sync::Arc::new(tools.py.take());
    let py_zmq = py.as_ref().as_ref().is_some_and(|p| p.zmq);
    let py_curve = py.as_ref().as_ref().is_some_and(|p| p.curve);
    let py_bulk_chunks = (bulk.min(512 << 20) / (64 << 10)).max(1);
    let py_frames = ((secs * 250_000.0) as u64).max(1000);

    // The variants of one scenario: the core, then C and Go with `args`,
    // then the Python roles in `mode` (pyzmq only where it has that mode).
    let variants = |core: Job, args: Vec<String>, mode: &'static str, count: u64, zmq: bool| {
        let mut v: Vec<(String, Job)> = vec![(CORE.into(), core)];
        v.extend(prog_job(&tools.c, args.clone()).map(|j| (C.into(), j)));
        v.extend(prog_job(&tools.go, args).map(|j| (GO.into(), j)));
        if py.is_some() {
            v.push((PY.into(), py_job(&py, "sk", mode, count)));
            v.push((PY_AIO.into(), py_job(&py, "aio", mode, count)));
            if zmq && py_zmq {
                v.push((PYZMQ.into(), py_job(&py, "zmq", mode, count)));
            }
            if zmq && py_curve {
                // the encrypted baseline (bench.py's "zmqc" roles)
                v.push((PYZMQ_CURVE.into(), py_job(&py, "zmqc", mode, count)));
            }
        }
        v
    };
    let v = variants(
        job(move || sk::bulk("tcp", bulk)),
        vec!["bulk".into(), bulk.to_string()],
        "bulk",
        py_bulk_chunks,
        true,
    );
    scenario(
        rep,
        cfg,
        "7a",
        "through the bindings: bulk, 64 KiB writes",
        v,
    )
    .await;
    let v = variants(
        job(move || sk::frames("tcp", secs)),
        vec!["frames".into(), secs.to_string()],
        "frames",
        py_frames,
        true,
    );
    scenario(
        rep,
        cfg,
        "7b",
        "through the bindings: 64-byte frames one way",
        v,
    )
    .await;
    let args = vec!["rtt".into(), warm.to_string(), n.to_string()];
    let v = variants(
        job(move || sk::rtt("tcp", warm, n)),
        args,
        "rtt",
        n as u64,
        false,
    );
    scenario(
        rep,
        cfg,
        "7c",
        "through the bindings: 64-byte echo round trip",
        v,
    )
    .await;
    drop(tools);
}

/// Scenario 7's lines in the targets table: (name, measured, higher is
/// better, threshold).
pub(crate) fn targets(rep: &Report) -> Vec<(&'static str, Option<f64>, bool, f64)> {
    // ratio_of gives core ÷ language; the targets are language ÷ core.
    let inv = |v: &str| rep.ratio_of("7b", v, "frames/s").map(|r| 1.0 / r);
    let over = |sc: &str, a: &str, b: &str, m: &str| match (rep.med(sc, a, m), rep.med(sc, b, m)) {
        (Some(a), Some(b)) => Some(a / b),
        _ => None,
    };
    vec![
        (
            "C frames/s ≥ 0.7 × the Rust core (scenario 7b)",
            inv(C),
            true,
            0.7,
        ),
        (
            "Go frames/s ≥ 0.7 × the Rust core (scenario 7b)",
            inv(GO),
            true,
            0.7,
        ),
        (
            "Python frames/s ≥ 1.0 × pyzmq (scenario 7b)",
            over("7b", PY, PYZMQ, "frames/s"),
            true,
            1.0,
        ),
        (
            "Python bulk ≥ 1.0 × pyzmq (scenario 7a, issue 5)",
            over("7a", PY, PYZMQ, "MB/s"),
            true,
            1.0,
        ),
        (
            "streamkit.aio frames/s ≥ 0.7 × blocking Python (scenario 7b, issue 10)",
            over("7b", PY_AIO, PY, "frames/s"),
            true,
            0.7,
        ),
    ]
}
