//! `streamkit bench`: runs the benchmark binary `streamkit-bench` (workspace
//! crate `bench/`), which measures streamkit against raw TCP, a bare russh
//! channel, OpenSSH and ZeroMQ in one run.

use std::path::PathBuf;
use std::process::Command;

/// Arguments for `streamkit bench` (everything is passed to `streamkit-bench`).
#[derive(clap::Args, Debug)]
#[command(
    about = "Benchmark streamkit against raw TCP, bare russh, OpenSSH and ZeroMQ (runs streamkit-bench)",
    after_help = "Examples:
  streamkit bench --quick                 # under a minute: a smoke run of every scenario
  streamkit bench --markdown results.md   # the full run (a few minutes), also written as markdown
  streamkit bench -- --help               # every option of streamkit-bench

Build it first: cargo build --release -p streamkit-bench --features zmq
(the zmq feature needs libzmq3-dev; the OpenSSH rows need openssh-server).",
    disable_help_flag = false
)]
pub struct BenchArgs {
    /// Arguments passed to streamkit-bench unchanged.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn find_bench() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.join("streamkit-bench");
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("streamkit-bench"))
            .find(|c| c.is_file())
    })
}

/// Run streamkit-bench; returns its exit code.
pub fn run(a: BenchArgs) -> u8 {
    let Some(bin) = find_bench() else {
        eprintln!(
            "streamkit: streamkit-bench not found next to this binary or on PATH; build it with\n  \
             cargo build --release -p streamkit-bench --features zmq"
        );
        return 255;
    };
    match Command::new(&bin).args(&a.args).status() {
        Ok(s) => s.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(1),
        Err(e) => {
            eprintln!("streamkit: cannot run {}: {e}", bin.display());
            255
        }
    }
}
