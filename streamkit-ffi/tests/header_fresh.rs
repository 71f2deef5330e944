//! Fails if the committed include/streamkit.h differs from what the pinned
//! cbindgen generates from the current sources (gen_header.sh --verify).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use std::process::Command;

#[test]
fn committed_header_is_fresh() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{dir}/gen_header.sh"))
        .arg("--verify")
        .output()
        .expect("run gen_header.sh");
    assert!(
        out.status.success(),
        "include/streamkit.h is stale or cbindgen failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
