//! Give libstreamkit.so a soname, so programs record the ABI they were
//! linked against: libstreamkit.so.0.1 for every 0.1.x (before 1.0 a minor
//! version may break the ABI), libstreamkit.so.N from N.0 on.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let soname = if major == "0" {
        format!("libstreamkit.so.0.{minor}")
    } else {
        format!("libstreamkit.so.{major}")
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
}
