#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! The default key (~/.ssh/id_ed25519) must be usable when it exists: never
//! silently replaced by a temporary key. One test in its own binary, since
//! it sets HOME for the process.

use std::os::unix::fs::PermissionsExt;
use streamkit_core::{ErrorKind, Peer, PeerOption};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_default_key_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    // SAFETY-free in edition 2021; this binary runs no other test.
    std::env::set_var("HOME", home.path());
    let key = ssh.join("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "passphrase", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen is required for this test (apt-get install openssh-client)");
    assert!(st.success());

    let p = Peer::new();
    p.set_option_str(PeerOption::Name, "p").unwrap();
    let e = p.public_key().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let m = e.to_string();
    assert!(
        m.contains("encrypted") && m.contains("does not fall back"),
        "{m}"
    );
    assert!(m.contains(key.to_str().unwrap()), "{m}");
    let e = p.bind("tcp://127.0.0.1:0").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    // Unprotected: refused, naming chmod 600.
    std::fs::remove_file(&key).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Peer::new().public_key().unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "{e}");

    // Usable: it is the identity.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = std::fs::read_to_string(ssh.join("id_ed25519.pub")).unwrap();
    let got = Peer::new().public_key().unwrap();
    assert_eq!(got.split(' ').nth(1), public.split(' ').nth(1));

    // No default key at all: a fresh temporary key, as documented.
    std::fs::remove_file(&key).unwrap();
    assert!(Peer::new()
        .public_key()
        .unwrap()
        .starts_with("ssh-ed25519 "));
}
