#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort
//! authorized_keys options honoured at authentication, with keys and lines
//! as OpenSSH's tools write them, over TCP and Unix sockets.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use streamkit_core::{ErrorKind, Peer, PeerOption};
use support::{endpoint, peer, within, Transport};

/// Everything logged by streamkit in this test binary (all tests share it).
fn log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || LogWriter(b2.clone()))
            .finish();
        tracing::subscriber::set_global_default(sub).unwrap();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&log().lock().unwrap()).into_owned()
}

/// A key written by ssh-keygen: (private key file, public key line).
fn ssh_keygen(dir: &Path, ty: &str) -> (PathBuf, String) {
    let f = dir.join(format!("id_{ty}"));
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-t", ty, "-N", "", "-C", &format!("{ty}@test"), "-f"])
        .arg(&f);
    if ty == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let st = cmd
        .status()
        .expect("ssh-keygen is required for this test (apt-get install openssh-client)");
    assert!(st.success(), "ssh-keygen -t {ty} failed");
    let line = std::fs::read_to_string(format!("{}.pub", f.display())).unwrap();
    (f, line.trim().to_string())
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    public: String,
}

fn setup(ty: &str) -> Setup {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let (key, public) = ssh_keygen(&dir, ty);
    Setup {
        _dir: d,
        dir,
        key,
        public,
    }
}

/// A server whose authorized_keys file is `lines`, bound on `t`, and a
/// client using the ssh-keygen key; the result of the client's connect.
async fn try_connect(
    s: &Setup,
    t: Transport,
    file: &str,
    lines: &str,
) -> (Peer, Peer, streamkit_core::Result<()>) {
    let _ = log();
    let ak = s.dir.join(file);
    std::fs::write(&ak, lines).unwrap();
    let server = peer("server");
    server
        .set_option_str(PeerOption::AuthorizedKeys, ak.to_str().unwrap())
        .unwrap();
    let client = Peer::new();
    client.set_option_str(PeerOption::Name, "client").unwrap();
    client
        .set_option_str(PeerOption::PrivateKey, s.key.to_str().unwrap())
        .unwrap();
    client
        .set_option_str(PeerOption::AuthorizedKeys, &server.public_key().unwrap())
        .unwrap();
    let ep = server.bind(&endpoint(t)).await.unwrap();
    let r = within(30, client.connect(&ep)).await;
    (server, client, r)
}

async fn admitted(s: &Setup, t: Transport, file: &str, lines: &str) {
    let (server, client, r) = try_connect(s, t, file, lines).await;
    r.unwrap_or_else(|e| panic!("{t:?}: {lines:?} should admit: {e}"));
    support::assert_knows(&server, "client");
    server.shutdown().await.unwrap();
    client.shutdown().await.unwrap();
}

async fn refused(s: &Setup, t: Transport, file: &str, lines: &str) {
    let (server, client, r) = try_connect(s, t, file, lines).await;
    let e = r.expect_err(&format!("{t:?}: {lines:?} should refuse"));
    assert_eq!(e.kind(), ErrorKind::Auth, "{t:?} {lines:?}: {e}");
    assert!(e.to_string().contains("refused our key"), "{e}");
    assert!(server.peers().is_empty());
    server.shutdown().await.unwrap();
    client.shutdown().await.unwrap();
}

const SOCKETS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_no_effect_options_admit() {
    for ty in ["ed25519", "ecdsa", "rsa"] {
        let s = setup(ty);
        let k = &s.public;
        for t in SOCKETS {
            admitted(&s, t, "ak", &format!("{k}\n")).await;
            admitted(
                &s,
                t,
                "ak",
                &format!("restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc {k}\n"),
            )
            .await;
            admitted(&s, t, "ak", &format!("restrict,pty {k}\n")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_matches_the_tcp_source_address() {
    let s = setup("ed25519");
    let k = &s.public;
    let tcp = Transport::Tcp;
    for ok in [
        "127.0.0.1",
        "10.9.9.9,127.0.0.1",
        "127.0.0.*",
        "127.?.0.1",
        "127.0.0.0/8",
        "10.0.0.0/8,127.0.0.0/24",
        "*,!10.9.9.9",
    ] {
        admitted(&s, tcp, "ak", &format!("from=\"{ok}\" {k}\n")).await;
    }
    for bad in [
        "10.9.9.9",
        "10.0.0.0/8",
        "127.0.0.0/8,!127.0.0.1",
        "*,!127.0.0.0/8",
        "!127.0.0.1",
        "localhost",
        "::1",
    ] {
        refused(&s, tcp, "ak", &format!("from=\"{bad}\" {k}\n")).await;
    }
    let log = logged();
    assert!(
        log.contains("from=\"10.9.9.9\" does not admit 127.0.0.1"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_never_admits_a_unix_socket() {
    let s = setup("ed25519");
    let k = &s.public;
    for any in ["*", "127.0.0.1", "0.0.0.0/0"] {
        refused(
            &s,
            Transport::Unix,
            "ak_unix",
            &format!("from=\"{any}\" {k}\n"),
        )
        .await;
    }
    // A line without from= for the same key still admits (sshd looks on).
    admitted(
        &s,
        Transport::Unix,
        "ak_unix",
        &format!("from=\"*\" {k}\n{k}\n"),
    )
    .await;
    let log = logged();
    assert!(log.contains("a unix:// connection has none"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_time() {
    let s = setup("ed25519");
    let k = &s.public;
    for t in SOCKETS {
        refused(&s, t, "ak", &format!("expiry-time=\"20000101\" {k}\n")).await;
        refused(&s, t, "ak", &format!("expiry-time=\"200001011200Z\" {k}\n")).await;
        admitted(&s, t, "ak", &format!("expiry-time=\"29991231\" {k}\n")).await;
        // An expired line then a valid one: the valid one admits.
        admitted(
            &s,
            t,
            "ak",
            &format!("expiry-time=\"20000101\" {k}\nexpiry-time=\"29991231235959\" {k}\n"),
        )
        .await;
    }
    assert!(logged().contains("the key expired (expiry-time=\"20000101\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_streamkit_cannot_honour_refuse_the_line_and_say_why() {
    let s = setup("ed25519");
    let k = &s.public;
    let opts = [
        ("restrict,command=\"/bin/false\"", "command="),
        ("permitopen=\"localhost:80\"", "permitopen="),
        ("permitlisten=\"8080\"", "permitlisten="),
        ("principals=\"alice\"", "principals="),
        ("environment=\"A=b\"", "environment="),
        ("tunnel=\"1\"", "tunnel="),
        ("cert-authority", "cert-authority"),
    ];
    for t in SOCKETS {
        for (i, (opt, name)) in opts.iter().enumerate() {
            // The refusing line is line 2 (after a comment), in its own file.
            let file = format!("ak_{t:?}_{i}");
            refused(&s, t, &file, &format!("# deploy key\n{opt} {k}\n")).await;
            let path = s.dir.join(&file);
            let want = format!(
                "line 2 of authorized_keys file {:?} has the option {name}",
                path.display().to_string()
            );
            let log = logged();
            assert!(log.contains(&want), "no log line {want:?} in:\n{log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_applies_to_the_server_key_on_the_client_side() {
    let s = setup("ed25519");
    for (t, from, ok) in [
        (Transport::Tcp, "127.0.0.1", true),
        (Transport::Tcp, "10.9.9.9", false),
        (Transport::Unix, "*", false),
    ] {
        let server = Peer::new();
        server.set_option_str(PeerOption::Name, "server").unwrap();
        server
            .set_option_str(PeerOption::PrivateKey, s.key.to_str().unwrap())
            .unwrap();
        let client = peer("client");
        server
            .set_option_str(PeerOption::AuthorizedKeys, &client.public_key().unwrap())
            .unwrap();
        client
            .set_option_str(
                PeerOption::AuthorizedKeys,
                &format!("from=\"{from}\" {}\n", s.public),
            )
            .unwrap();
        let ep = server.bind(&endpoint(t)).await.unwrap();
        let r = within(30, client.connect(&ep)).await;
        if ok {
            r.unwrap();
        } else {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
            assert!(
                e.to_string().contains("is not trusted") && e.to_string().contains("from="),
                "{e}"
            );
        }
        server.shutdown().await.unwrap();
        client.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_option_values_are_load_errors() {
    let s = setup("ed25519");
    let k = &s.public;
    let p = Peer::new();
    for (line, what) in [
        (format!("from=\"10.0.0.1/8\" {k}"), "beyond its prefix"),
        (format!("expiry-time=\"2000\" {k}"), "expiry-time"),
        (format!("from=10.0.0.1 {k}"), "double quotes"),
        (format!("from=\"10.0.0.1 {k}"), "closing double quote"),
    ] {
        let e = p
            .set_option_str(PeerOption::AuthorizedKeys, &format!("{line}\n"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
        assert!(
            e.to_string().contains("line 1 of the AUTHORIZED_KEYS text")
                && e.to_string().contains(what),
            "{line}: {e}"
        );
    }
}
