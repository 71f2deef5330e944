#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! Key hygiene like OpenSSH: unprotected key files, weak key types, SHA-1
//! ssh-rsa signatures; keys written by ssh-keygen.

mod support;

use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use streamkit_core::{ErrorKind, Peer, PeerOption};
use support::{peer, within};

fn ssh_keygen(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let f = dir.join(name);
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name])
        .args(args)
        .arg("-f")
        .arg(&f)
        .status()
        .expect("ssh-keygen is required for this test (apt-get install openssh-client)");
    assert!(st.success(), "ssh-keygen {args:?} failed");
    let public = std::fs::read_to_string(format!("{}.pub", f.display())).unwrap();
    (f, public.trim().to_string())
}

fn invalid(r: streamkit_core::Result<()>, want: &[&str]) {
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    for w in want {
        assert!(e.to_string().contains(w), "{w:?} not in: {e}");
    }
}

#[test]
fn private_key_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = ssh_keygen(dir.path(), "id_ed25519", &["-t", "ed25519"]);
    let p = Peer::new();
    let path = f.to_str().unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        invalid(
            p.set_option_str(PeerOption::PrivateKey, path),
            &[path, "chmod 600", &format!("{mode:03o}")],
        );
    }
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        p.set_option_str(PeerOption::PrivateKey, path).unwrap();
    }
}

#[test]
fn encrypted_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("id_enc");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret passphrase", "-f"])
        .arg(&f)
        .status()
        .unwrap();
    assert!(st.success());
    invalid(
        Peer::new().set_option_str(PeerOption::PrivateKey, f.to_str().unwrap()),
        &["encrypted with a passphrase", f.to_str().unwrap()],
    );
}

#[test]
fn dsa_and_short_rsa_keys_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "id_dsa",
            vec!["-t", "dsa"],
            "DSA (ssh-dss) keys are refused",
        ),
        (
            "id_rsa1024",
            vec!["-t", "rsa", "-b", "1024"],
            "RSA keys of 1024 bits are refused",
        ),
    ];
    for (name, args, want) in cases {
        let (f, public) = ssh_keygen(dir.path(), name, &args);
        let p = Peer::new();
        // As the own key.
        invalid(
            p.set_option_str(PeerOption::PrivateKey, f.to_str().unwrap()),
            &[want, "PRIVATE_KEY"],
        );
        // As a remote key: authorized_keys (text and file) and known_hosts.
        let good = peer("x").public_key().unwrap();
        let text = format!("{good}\n{public}\n");
        invalid(
            p.set_option_str(PeerOption::AuthorizedKeys, &text),
            &[want, "line 2 of the AUTHORIZED_KEYS text"],
        );
        let ak = dir.path().join(format!("ak_{name}"));
        std::fs::write(&ak, &text).unwrap();
        invalid(
            p.set_option_str(PeerOption::AuthorizedKeys, ak.to_str().unwrap()),
            &[want, "line 2 of authorized_keys file"],
        );
        invalid(
            p.set_option_str(PeerOption::KnownHosts, &format!("* {public}\n")),
            &[want, "KNOWN_HOSTS: line 1"],
        );
    }
    // RSA of 2048 bits and more is fine.
    let (f, public) = ssh_keygen(dir.path(), "id_rsa2048", &["-t", "rsa", "-b", "2048"]);
    let p = Peer::new();
    p.set_option_str(PeerOption::PrivateKey, f.to_str().unwrap())
        .unwrap();
    p.set_option_str(PeerOption::AuthorizedKeys, &public)
        .unwrap();
}

struct AnyHost;

impl russh::client::Handler for AnyHost {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A streamkit server with an ssh-keygen RSA host key that trusts an
/// ssh-keygen RSA client key; returns the port and the client key.
async fn rsa_server(dir: &Path) -> (Peer, u16, Arc<russh::keys::PrivateKey>) {
    let (host, _) = ssh_keygen(dir, "host_rsa", &["-t", "rsa", "-b", "2048"]);
    let (client, client_pub) = ssh_keygen(dir, "client_rsa", &["-t", "rsa", "-b", "2048"]);
    let s = Peer::new();
    s.set_option_str(PeerOption::Name, "server").unwrap();
    s.set_option_str(PeerOption::PrivateKey, host.to_str().unwrap())
        .unwrap();
    s.set_option_str(PeerOption::AuthorizedKeys, &client_pub)
        .unwrap();
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    let port: u16 = ep.rsplit(':').next().unwrap().parse().unwrap();
    let text = std::fs::read_to_string(&client).unwrap();
    let key = Arc::new(russh::keys::decode_secret_key(&text, None).unwrap());
    (s, port, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_ssh_rsa_signatures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (s, port, key) = rsa_server(dir.path()).await;
    for (hash, ok) in [
        (None, false), // ssh-rsa: SHA-1
        (Some(HashAlg::Sha256), true),
        (Some(HashAlg::Sha512), true),
    ] {
        let cfg = Arc::new(russh::client::Config::default());
        let mut h = within(
            30,
            russh::client::connect(cfg, ("127.0.0.1", port), AnyHost),
        )
        .await
        .unwrap();
        let r = within(
            30,
            h.authenticate_publickey("client", PrivateKeyWithHashAlg::new(key.clone(), hash)),
        )
        .await
        .unwrap();
        assert_eq!(r.success(), ok, "{hash:?}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_ssh_rsa_host_key_signatures_are_not_offered() {
    let dir = tempfile::tempdir().unwrap();
    let (s, port, _) = rsa_server(dir.path()).await;
    // A client that accepts only ssh-rsa (SHA-1) host key signatures finds
    // no common algorithm.
    let mut cfg = russh::client::Config::default();
    cfg.preferred.key = std::borrow::Cow::Owned(vec![russh::keys::Algorithm::Rsa { hash: None }]);
    let r = within(
        30,
        russh::client::connect(Arc::new(cfg), ("127.0.0.1", port), AnyHost),
    )
    .await;
    assert!(r.is_err(), "an ssh-rsa host key signature was negotiated");
    // rsa-sha2-256 is.
    let mut cfg = russh::client::Config::default();
    cfg.preferred.key = std::borrow::Cow::Owned(vec![russh::keys::Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    }]);
    within(
        30,
        russh::client::connect(Arc::new(cfg), ("127.0.0.1", port), AnyHost),
    )
    .await
    .unwrap();
    s.shutdown().await.unwrap();
}
