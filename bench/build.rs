//! Records which source tree the benchmark was built from, so every result
//! names the commit it measured (not the directory it was run in).
use std::process::Command;

fn git(dir: &str, args: &[&str]) -> Option<String> {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let desc = git(&dir, &["describe", "--always", "--dirty", "--abbrev=10"])
        .unwrap_or_else(|| "unknown (not a git checkout)".into());
    println!("cargo:rustc-env=SKB_GIT={desc}");
    println!("cargo:rustc-env=SKB_SRC={dir}");
    if let Some(g) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={g}/HEAD");
        println!("cargo:rerun-if-changed={g}/index");
    }
    println!("cargo:rerun-if-changed=../streamkit-core/src");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
}
