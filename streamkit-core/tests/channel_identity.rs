#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! remote_key / remote_fingerprint on channel metadata, on every transport,
//! compared with what ssh-keygen prints.

mod support;

use streamkit_core::{Peer, PeerOption};
use support::{endpoint, open_pair, ALL};

/// (key line without comment, `ssh-keygen -lf` fingerprint) of a public key line.
fn keygen_fingerprint(dir: &std::path::Path, line: &str) -> (String, String) {
    let f = dir.join("k.pub");
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&f)
        .output()
        .expect("ssh-keygen is required for this test (apt-get install openssh-client)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let fp = text.split_whitespace().nth(1).unwrap().to_string();
    let mut parts = line.split_whitespace();
    let key = format!("{} {}", parts.next().unwrap(), parts.next().unwrap());
    (key, fp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_meta_names_the_remote_key() {
    let dir = tempfile::tempdir().unwrap();
    // The client's key is an ssh-keygen key with a comment.
    let kf = dir.path().join("id_ecdsa");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-C", "client@example", "-f"])
        .arg(&kf)
        .status()
        .unwrap();
    assert!(st.success());
    let client_line = std::fs::read_to_string(format!("{}.pub", kf.display())).unwrap();
    for t in ALL {
        let s = support::peer("server");
        let c = Peer::new();
        c.set_option_str(PeerOption::Name, "client").unwrap();
        c.set_option_str(PeerOption::PrivateKey, kf.to_str().unwrap())
            .unwrap();
        s.set_option_str(PeerOption::AuthorizedKeys, client_line.trim())
            .unwrap();
        c.set_option_str(PeerOption::AuthorizedKeys, &s.public_key().unwrap())
            .unwrap();
        let ep = s.bind(&endpoint(t)).await.unwrap();
        c.connect(&ep).await.unwrap();
        let (a, b) = open_pair(&c, &s, "server", "svc", &[]).await;
        let (ckey, cfp) = keygen_fingerprint(dir.path(), client_line.trim());
        let (skey, sfp) = keygen_fingerprint(dir.path(), &s.public_key().unwrap());
        // The server sees the client's key, without its comment.
        assert_eq!(b.meta().remote_key(), ckey, "{t:?}");
        assert_eq!(b.meta().remote_fingerprint(), cfp, "{t:?}");
        assert_eq!(b.remote_fingerprint(), cfp, "{t:?}");
        assert!(cfp.starts_with("SHA256:") && !cfp.ends_with('='));
        // The client sees the server's.
        assert_eq!(a.meta().remote_key(), skey, "{t:?}");
        assert_eq!(a.remote_key(), skey, "{t:?}");
        assert_eq!(a.meta().remote_fingerprint(), sfp, "{t:?}");
        // Channels the server opens carry the same identity.
        let (x, y) = open_pair(&s, &c, "client", "back", &[]).await;
        assert_eq!(x.remote_fingerprint(), cfp, "{t:?}");
        assert_eq!(y.remote_fingerprint(), sfp, "{t:?}");
        s.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }
}
