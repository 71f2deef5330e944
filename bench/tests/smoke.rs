//! Smoke test: the whole benchmark in --quick mode must finish and find no
//! correctness failure (exit status 0).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
use std::process::Command;

#[test]
fn quick_run_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_streamkit-bench"))
        .args(["--quick", "--timeout", "60"])
        .output()
        .expect("run streamkit-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "streamkit-bench --quick failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("| 1 bulk"), "no results table:\n{stdout}");
}
