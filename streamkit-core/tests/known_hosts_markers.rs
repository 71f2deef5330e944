#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! known_hosts markers: @revoked refuses the key, @cert-authority never
//! vouches for a plain host key; file and text forms, tcp and unix.

mod support;

use streamkit_core::{ErrorKind, Peer, PeerOption};
use support::{endpoint, peer, within, Transport};

const SOCKETS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

/// The host field of a plain known_hosts line for endpoint `ep`.
fn host_field(ep: &str) -> String {
    match ep.strip_prefix("tcp://") {
        Some(hp) => {
            let (h, p) = hp.rsplit_once(':').unwrap();
            format!("[{h}]:{p}")
        }
        None => "*".to_string(),
    }
}

/// Connect a client using known_hosts `text` (as a file when `file`) to a
/// fresh server on `t`; the result of connect.
async fn connect_with(
    t: Transport,
    file: bool,
    lines: impl Fn(&str, &str) -> String,
) -> streamkit_core::Result<()> {
    let s = peer("server");
    let c = peer("client");
    support::trust_all(&[&s, &c]);
    let ep = s.bind(&endpoint(t)).await.unwrap();
    let text = lines(&host_field(&ep), &s.public_key().unwrap());
    let dir = tempfile::tempdir().unwrap();
    if file {
        let f = dir.path().join("known_hosts");
        std::fs::write(&f, &text).unwrap();
        c.set_option_str(PeerOption::KnownHosts, f.to_str().unwrap())
            .unwrap();
    } else {
        c.set_option_str(PeerOption::KnownHosts, &text).unwrap();
    }
    let r = within(30, c.connect(&ep)).await;
    for p in [&s, &c] {
        p.shutdown().await.unwrap();
    }
    r
}

fn auth_err(r: streamkit_core::Result<()>, want: &str, ctx: &str) {
    let e = r.expect_err(ctx);
    assert_eq!(e.kind(), ErrorKind::Auth, "{ctx}: {e}");
    assert!(e.to_string().contains(want), "{ctx}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_lines_admit() {
    for t in SOCKETS {
        for file in [true, false] {
            connect_with(t, file, |h, k| format!("# hosts\n{h} {k}\n"))
                .await
                .unwrap_or_else(|e| panic!("{t:?} file={file}: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_refuses_the_key_even_when_a_plain_line_lists_it() {
    for t in SOCKETS {
        for file in [true, false] {
            let ctx = format!("{t:?} file={file}");
            auth_err(
                connect_with(t, file, |h, k| format!("{h} {k}\n@revoked * {k}\n")).await,
                "is revoked (@revoked on line 2",
                &ctx,
            );
            // Listed only on an @revoked line (for another host, even).
            auth_err(
                connect_with(t, file, |_, k| format!("@revoked nowhere.example {k}\n")).await,
                "is revoked",
                &ctx,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_authority_lines_never_trust_a_key() {
    for t in SOCKETS {
        for file in [true, false] {
            let ctx = format!("{t:?} file={file}");
            auth_err(
                connect_with(t, file, |h, k| format!("@cert-authority {h} {k}\n")).await,
                "line 1 of",
                &ctx,
            );
            auth_err(
                connect_with(t, file, |h, k| format!("@cert-authority {h} {k}\n")).await,
                "@cert-authority line, and streamkit does not accept host certificates",
                &ctx,
            );
        }
    }
    // A CA line for the host, with another key: refused, naming the line.
    let other = peer("x").public_key().unwrap();
    auth_err(
        connect_with(Transport::Tcp, true, |h, _| {
            format!("# ca\n@cert-authority {h} {other}\n")
        })
        .await,
        "line 2 of known_hosts",
        "tcp CA for host",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_hashed_by_ssh_keygen_match() {
    let s = peer("server");
    let c = peer("client");
    support::trust_all(&[&s, &c]);
    let ep = s.bind(&endpoint(Transport::Tcp)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("known_hosts");
    std::fs::write(
        &f,
        format!("{} {}\n", host_field(&ep), s.public_key().unwrap()),
    )
    .unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .arg("-q")
        .arg("-H")
        .arg("-f")
        .arg(&f)
        .output()
        .expect("ssh-keygen is required for this test (apt-get install openssh-client)");
    assert!(st.status.success(), "{st:?}");
    let hashed = std::fs::read_to_string(&f).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    c.set_option_str(PeerOption::KnownHosts, f.to_str().unwrap())
        .unwrap();
    within(30, c.connect(&ep)).await.unwrap();
    // The same hashed name with @revoked in front: refused.
    std::fs::write(&f, format!("@revoked {hashed}")).unwrap();
    let c2 = Peer::new();
    c2.set_option_str(PeerOption::PrivateKey, &streamkit_core::generate_key())
        .unwrap();
    c2.set_option_str(PeerOption::Name, "client2").unwrap();
    c2.set_option_str(PeerOption::KnownHosts, f.to_str().unwrap())
        .unwrap();
    let e = within(30, c2.connect(&ep)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("revoked"), "{e}");
}
