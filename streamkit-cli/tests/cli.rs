//! End-to-end tests of the `streamkit` binary: every test spawns the real
//! binary, on 127.0.0.1 only, with keys in a temporary directory and HOME
//! pointed there (so the user's ~/.ssh never matters). Spawned processes are
//! killed when their guard drops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may abort

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_streamkit");
const TIMEOUT: Duration = Duration::from_secs(60);

/// A spawned process, killed on drop.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory that is also HOME for the spawned binaries.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("home")).expect("home dir");
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("HOME", self.path("home"));
        c.env_remove("RUST_LOG");
        c.current_dir(self.dir.path());
        c
    }

    /// `streamkit keygen -f NAME.key`; writes NAME.pub from its stdout and
    /// returns the public key line.
    fn keygen(&self, name: &str) -> String {
        let out = run(
            self.cmd()
                .arg("keygen")
                .arg("-f")
                .arg(self.path(&format!("{name}.key"))),
            b"",
        );
        assert!(
            out.status.success(),
            "keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string();
        std::fs::write(self.path(&format!("{name}.pub")), format!("{line}\n")).expect("write pub");
        line
    }

    /// The usual pair: a server key and a client key, each trusting the other.
    fn keys(&self) {
        self.keygen("server");
        self.keygen("client");
    }

    /// Start `streamkit serve` on a free loopback port with the given
    /// services, trusting client.pub; returns the process and its endpoint.
    fn serve(&self, services: &[&str]) -> (Proc, String) {
        self.serve_with("tcp://127.0.0.1:0", "client.pub", services)
    }

    fn serve_with(&self, endpoint: &str, authorized: &str, services: &[&str]) -> (Proc, String) {
        self.serve_custom(endpoint, authorized, services, |_| {})
    }

    /// `serve_with`, letting `f` add flags and environment first.
    fn serve_custom(
        &self,
        endpoint: &str,
        authorized: &str,
        services: &[&str],
        f: impl FnOnce(&mut Command),
    ) -> (Proc, String) {
        let mut c = self.cmd();
        c.arg("serve")
            .arg(endpoint)
            .arg("--key")
            .arg(self.path("server.key"));
        c.arg("--authorized-keys").arg(self.path(authorized));
        for s in services {
            c.arg("--service").arg(s);
        }
        f(&mut c);
        let log = std::fs::File::create(self.path("serve.log")).expect("log");
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        let mut child = c.spawn().expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let p = Proc { child };
        let line = read_line_timeout(stdout, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("serve printed no endpoint; log: {}", self.log("serve.log")));
        (p, line)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Client flags: client.key, trusting server.pub.
    fn client_args(&self) -> Vec<String> {
        vec![
            "--key".into(),
            self.path("client.key").display().to_string(),
            "--authorized-keys".into(),
            self.path("server.pub").display().to_string(),
        ]
    }

    /// `streamkit open ENDPOINT echo --name NAME` that sends `hello`, reads
    /// its echo, and keeps its connection (stdin stays open) until the
    /// returned process, stdin and stdout are dropped.
    fn open_held(
        &self,
        endpoint: &str,
        name: &str,
        hello: &[u8],
    ) -> (Proc, ChildStdin, ChildStdout) {
        let mut c = self.cmd();
        c.arg("open")
            .arg(endpoint)
            .arg("echo")
            .args(self.client_args())
            .args(["--name", name]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().expect("spawn open");
        let mut si = child.stdin.take().expect("stdin");
        let mut so = child.stdout.take().expect("stdout");
        let p = Proc { child };
        si.write_all(hello).expect("write");
        si.flush().expect("flush");
        let mut got = vec![0u8; hello.len()];
        so.read_exact(&mut got).expect("echo reply");
        assert_eq!(got, hello);
        (p, si, so)
    }

    /// `streamkit open ENDPOINT SERVICE [extra...]` with `input` on stdin.
    fn open(&self, endpoint: &str, service: &str, extra: &[&str], input: &[u8]) -> Output {
        let mut c = self.cmd();
        c.arg("open")
            .arg(endpoint)
            .arg(service)
            .args(self.client_args())
            .args(extra);
        run(&mut c, input)
    }
}

/// Read the first line of `r` (trimmed) within `t`; the rest of `r` keeps
/// being drained so the writer never blocks.
fn read_line_timeout<R: Read + Send + 'static>(r: R, t: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut br = BufReader::new(r);
        let mut line = String::new();
        let ok = br.read_line(&mut line).map(|n| n > 0).unwrap_or(false);
        let _ = tx.send(if ok {
            Some(line.trim().to_string())
        } else {
            None
        });
        let mut sink = Vec::new();
        let _ = br.read_to_end(&mut sink);
    });
    rx.recv_timeout(t).ok().flatten()
}

/// Run a command to completion with `input` on stdin, killing it after TIMEOUT.
fn run(c: &mut Command, input: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let w = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let ro = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let re = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command {c:?} did not finish within {TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = w.join();
    Output {
        status,
        stdout: ro.join().expect("stdout"),
        stderr: re.join().expect("stderr"),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Deterministic pseudo-random bytes (xorshift), so data is not trivially compressible.
fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// keygen

#[cfg(unix)]
#[test]
fn keygen_writes_a_0600_key_and_prints_its_public_key() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let key = env.path("id");
    let out = run(env.cmd().arg("keygen").arg("-f").arg(&key), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let line = line.trim();
    assert!(
        line.starts_with("ssh-ed25519 AAAA"),
        "public key line: {line:?}"
    );
    assert_eq!(line.lines().count(), 1);
    let text = std::fs::read_to_string(&key).expect("key file");
    assert!(
        text.contains("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{text}"
    );
    let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode is {mode:o}");
    let public = std::fs::read_to_string(env.path("id.pub")).expect("pub file");
    assert_eq!(public.trim(), line);

    // Never overwrite silently...
    let again = run(env.cmd().arg("keygen").arg("-f").arg(&key), b"");
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&key).expect("key"), text);
    // ...but do with --force, producing a different key.
    let forced = run(
        env.cmd().arg("keygen").arg("--force").arg("-f").arg(&key),
        b"",
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(stdout(&forced).trim(), line);
    let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn keygen_defaults_to_home_ssh_id_ed25519() {
    let env = Env::new();
    let out = run(env.cmd().arg("keygen"), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let key = env.path("home/.ssh/id_ed25519");
    assert!(key.is_file(), "no {}", key.display());
    let public = std::fs::read_to_string(env.path("home/.ssh/id_ed25519.pub")).expect("pub");
    assert_eq!(public.trim(), stdout(&out).trim());
}

// ---------------------------------------------------------------------------
// serve + open, one test per action

#[test]
fn serve_prints_its_bound_endpoint_and_echo_returns_every_byte() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["echo=echo"]);
    let port: u16 = ep
        .strip_prefix("tcp://127.0.0.1:")
        .unwrap_or_else(|| panic!("endpoint {ep:?}"))
        .parse()
        .expect("port");
    assert_ne!(port, 0);

    let input = data(3 * 1024 * 1024 + 17, 7);
    let out = env.open(&ep, "echo", &[], &input);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "echoed bytes differ");

    // Empty input: clean end of stream, nothing back.
    let out = env.open(&ep, "echo", &[], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn frames_mode_sends_lines_as_frames() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["echo=echo"]);
    let out = env.open(&ep, "echo", &["--frames"], b"one\n\ntwo three\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "one\n\ntwo three\n");
}

#[test]
fn frames_mode_writes_length_prefixed_frames() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["raw=exec:od -An -tx1 -v >&2"]);
    let out = env.open(&ep, "raw", &["--frames"], b"ab\nc\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let hex: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("trailer:"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    assert_eq!(
        hex,
        ["00", "00", "00", "02", "61", "62", "00", "00", "00", "01", "63"],
        "{err}"
    );
}

#[test]
fn discard_drops_the_data_and_reports_the_count() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["sink=discard"]);
    let out = env.open(&ep, "sink", &[], &data(2_000_003, 3));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("trailer: received-bytes=2000003"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exec_maps_stdout_stderr_and_exit_status() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&[
        "x=exec:echo out; echo err1 >&2; tr a-z A-Z; echo err2 >&2; exit 3",
        "ok=exec:cat",
        "env=exec:printf '%s|%s|%s' \"$STREAMKIT_SERVICE\" \"$STREAMKIT_HEADER_GREETING_WORD\" \"$STREAMKIT_PEER\"",
    ]);
    let out = env.open(&ep, "x", &[], b"hello\n");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\nHELLO\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines, ["err1", "err2", "trailer: exit-status=3"], "{err}");

    let input = data(1_500_000, 11);
    let out = env.open(&ep, "ok", &[], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout == input);
    assert!(stderr(&out).contains("trailer: exit-status=0"));

    let out = env.open(
        &ep,
        "env",
        &["-H", "greeting-word=hi there", "--quiet", "--name", "alice"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "env|hi there|alice");
    assert!(
        !stderr(&out).contains("trailer:"),
        "--quiet still printed trailers"
    );
}

#[test]
fn exec_children_get_a_clean_environment_and_the_peer_identity() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve_custom("tcp://127.0.0.1:0", "client.pub", &["env=exec:env"], |c| {
        c.arg("--pass-env").arg("SK_PASSED");
        c.env("SK_SECRET", "hunter2")
            .env("SK_PASSED", "yes")
            .env("LC_SK_TEST", "1");
    });
    let out = env.open(&ep, "env", &["--quiet", "--name", "alice"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let vars: std::collections::BTreeMap<String, String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(env.path("client.pub"))
        .output()
        .expect("ssh-keygen is required for this test");
    let fp = String::from_utf8(fp.stdout).unwrap();
    let fp = fp.split_whitespace().nth(1).unwrap();
    assert_eq!(
        vars.get("STREAMKIT_PEER").map(String::as_str),
        Some("alice")
    );
    assert_eq!(
        vars.get("STREAMKIT_PEER_FINGERPRINT").map(String::as_str),
        Some(fp)
    );
    assert_eq!(vars.get("SK_PASSED").map(String::as_str), Some("yes"));
    assert_eq!(vars.get("LC_SK_TEST").map(String::as_str), Some("1"));
    assert!(
        vars.contains_key("PATH") && vars.contains_key("HOME"),
        "{vars:?}"
    );
    assert!(
        !vars.contains_key("SK_SECRET"),
        "the server's secret leaked: {vars:?}"
    );
    // Nothing else but what sh itself sets.
    for k in vars.keys() {
        assert!(
            [
                "PATH",
                "HOME",
                "USER",
                "LOGNAME",
                "SHELL",
                "LANG",
                "PWD",
                "OLDPWD",
                "SHLVL",
                "_",
                "SK_PASSED"
            ]
            .contains(&k.as_str())
                || k.starts_with("LC_")
                || k.starts_with("STREAMKIT_"),
            "unexpected variable {k} in {vars:?}"
        );
    }
}

#[test]
fn exec_that_exits_without_reading_its_input() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["early=exec:echo bye; exit 5"]);
    let out = env.open(&ep, "early", &[], &data(4 * 1024 * 1024, 5));
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "bye\n");
}

/// Whether any process of process group `pgid` is still alive.
#[cfg(unix)]
fn group_alive(pgid: &str) -> bool {
    let pgid: i32 = pgid.parse().expect("pgid");
    assert!(pgid > 1);
    // SAFETY: signal 0 only checks that the process group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Send SIGTERM to a spawned process.
#[cfg(unix)]
fn sigterm(p: &Proc) {
    let pid = i32::try_from(p.child.id()).expect("pid");
    // SAFETY: plain kill(2) on a child we spawned and have not reaped.
    let r = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(r, 0, "kill failed");
}

#[cfg(unix)]
fn wait_group_gone(pgid: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "{what}: the command (process group {pgid}) is still running"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Spawn `streamkit open` on `service` with stdin closed; return it once its
/// first stdout line is `started`, with the command's process group id.
#[cfg(unix)]
fn open_started(env: &Env, ep: &str, service: &str) -> (Proc, std::process::ChildStdout, String) {
    let mut c = env.cmd();
    c.arg("open").arg(ep).arg(service).args(env.client_args());
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn open");
    let mut so = child.stdout.take().expect("stdout");
    let p = Proc { child };
    // Read "PGID\nstarted\n" byte by byte (no buffering past it).
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"started\n") {
        assert_eq!(
            so.read(&mut b).expect("read"),
            1,
            "open ended early: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.push(b[0]);
    }
    let text = String::from_utf8(got).expect("utf8");
    let pgid = text.lines().next().expect("pgid").trim().to_string();
    assert!(pgid.parse::<u32>().is_ok(), "{text:?}");
    assert!(group_alive(&pgid), "the command should be running");
    (p, so, pgid)
}

#[cfg(unix)]
#[test]
fn exec_command_is_killed_when_the_client_goes_away() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&[
        "hang=exec:echo $$; echo started; sleep 60; true",
        "yes=exec:echo $$; echo started; yes",
    ]);

    // The client is killed while the command waits.
    let (open, _so, pgid) = open_started(&env, &ep, "hang");
    drop(open);
    wait_group_gone(&pgid, "client killed");

    // The client stops reading (`| head`): it exits 141 at once, quietly,
    // and the command that keeps writing is stopped.
    let (mut open, so, pgid) = open_started(&env, &ep, "yes");
    drop(so);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = open.child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "open kept running after its stdout closed"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(141));
    wait_group_gone(&pgid, "stdout closed");
}

#[cfg(unix)]
#[test]
fn serve_stops_running_commands_when_it_exits() {
    let env = Env::new();
    env.keys();
    let (s, ep) = env.serve(&["hang=exec:echo $$; echo started; sleep 60; true"]);
    let (_open, _so, pgid) = open_started(&env, &ep, "hang");
    sigterm(&s);
    wait_group_gone(&pgid, "serve terminated");
    drop(s);
}

#[test]
fn open_returns_when_the_service_ends_even_if_stdin_stays_open() {
    // Like an interactive session: stdin never reaches end of file.
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["bye=exec:echo bye; exit 4"]);
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("bye").args(env.client_args());
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn open");
    let _stdin_kept_open = child.stdin.take().expect("stdin");
    let so = child.stdout.take().expect("stdout");
    let mut open = Proc { child };
    assert_eq!(
        read_line_timeout(so, Duration::from_secs(20)).as_deref(),
        Some("bye")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = open.child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "open hangs on its open stdin after the service ended"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(4));
}

/// A TCP server for the forward tests: for each connection, reads until EOF
/// and answers "N:" + the data reversed, then closes.
fn reversing_server(connections: usize) -> (u16, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = thread::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..connections {
            let (mut s, _) = l.accept().expect("accept");
            hs.push(thread::spawn(move || {
                let mut v = Vec::new();
                s.read_to_end(&mut v).expect("read");
                v.reverse();
                let mut reply = format!("{}:", v.len()).into_bytes();
                reply.extend_from_slice(&v);
                s.write_all(&reply).expect("write");
            }));
        }
        for h in hs {
            h.join().expect("conn");
        }
    });
    (port, h)
}

fn reversed(input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    v.reverse();
    let mut reply = format!("{}:", v.len()).into_bytes();
    reply.extend_from_slice(&v);
    reply
}

#[test]
fn forward_action_joins_the_channel_to_a_tcp_connection() {
    let env = Env::new();
    env.keys();
    let (port, server) = reversing_server(1);
    let svc = format!("rev=forward:tcp://127.0.0.1:{port}");
    let (_s, ep) = env.serve(&[&svc]);
    let input = data(1_000_000, 9);
    let out = env.open(&ep, "rev", &[], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout == reversed(&input), "reply differs");
    server.join().expect("server");
}

#[test]
fn forward_action_to_a_closed_port_fails_with_an_error_frame() {
    let env = Env::new();
    env.keys();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }; // closed again
    let svc = format!("gone=forward:tcp://127.0.0.1:{port}");
    let (_s, ep) = env.serve(&[&svc]);
    let out = env.open(&ep, "gone", &[], b"x");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_service_is_refused_with_an_error_frame_naming_it() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["echo=echo"]);
    let out = env.open(&ep, "nope", &[], b"data");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("unknown service \"nope\""), "{err}");
    assert!(
        err.contains("echo"),
        "should list the offered services: {err}"
    );
}

#[cfg(unix)]
#[test]
fn serve_and_open_over_a_unix_socket() {
    let env = Env::new();
    env.keys();
    let sock = format!("unix://{}", env.path("sk.sock").display());
    let (_s, ep) = env.serve_with(&sock, "client.pub", &["echo=echo"]);
    assert_eq!(ep, sock);
    let out = env.open(&ep, "echo", &[], b"over unix");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "over unix");
}

// ---------------------------------------------------------------------------
// forward (like ssh -L)

fn start_forward(env: &Env, ep: &str, service: &str) -> (Proc, String) {
    let mut c = env.cmd();
    c.arg("forward")
        .arg("127.0.0.1:0")
        .arg(ep)
        .arg(service)
        .args(env.client_args());
    let log = std::fs::File::create(env.path("forward.log")).expect("log");
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
    let mut child = c.spawn().expect("spawn forward");
    let so = child.stdout.take().expect("stdout");
    let p = Proc { child };
    let addr = read_line_timeout(so, Duration::from_secs(20)).unwrap_or_else(|| {
        panic!(
            "forward printed no address; log: {}",
            env.log("forward.log")
        )
    });
    (p, addr)
}

fn tcp_roundtrip(addr: &str, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect to forward");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        w.write_all(&input).expect("write");
        w.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut v = Vec::new();
    s.read_to_end(&mut v).expect("read");
    writer.join().expect("writer");
    v
}

#[test]
fn forward_carries_each_tcp_connection_over_its_own_channel() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["echo=echo"]);
    let (_f, addr) = start_forward(&env, &ep, "echo");
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    // Several concurrent connections, each with its own data.
    let hs: Vec<_> = (0..4u64)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let input = data(300_000 + i as usize, i + 1);
                let got = tcp_roundtrip(&addr, &input);
                assert!(
                    got == input,
                    "connection {i}: data differs ({} vs {} bytes)",
                    got.len(),
                    input.len()
                );
            })
        })
        .collect();
    for h in hs {
        h.join().expect("connection");
    }
    // And one more after those have finished.
    assert_eq!(tcp_roundtrip(&addr, b"again"), b"again");
}

#[test]
fn forward_through_to_a_forward_service_reaches_the_tcp_server() {
    // client TCP -> streamkit forward -> channel -> streamkit serve -> TCP server
    let env = Env::new();
    env.keys();
    let (port, server) = reversing_server(2);
    let svc = format!("rev=forward:tcp://127.0.0.1:{port}");
    let (_s, ep) = env.serve(&[&svc]);
    let (_f, addr) = start_forward(&env, &ep, "rev");
    for i in 0..2 {
        let input = data(100_000, 40 + i);
        assert!(tcp_roundtrip(&addr, &input) == reversed(&input));
    }
    server.join().expect("server");
}

#[test]
fn forward_fails_fast_when_the_server_is_not_trusted() {
    let env = Env::new();
    env.keys();
    env.keygen("other");
    let (_s, ep) = env.serve(&["echo=echo"]);
    let mut c = env.cmd();
    c.arg("forward").arg("127.0.0.1:0").arg(&ep).arg("echo");
    c.args(["--key", "client.key", "--authorized-keys", "other.pub"]);
    let out = run(&mut c, b"");
    assert_eq!(out.status.code(), Some(253), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("server host key not trusted"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// trust

#[test]
fn untrusted_server_key_is_refused_with_a_helpful_message() {
    let env = Env::new();
    env.keys();
    env.keygen("other");
    let server_pub = std::fs::read_to_string(env.path("server.pub")).expect("pub");
    let (_s, ep) = env.serve(&["echo=echo"]);
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("echo");
    c.args(["--key", "client.key", "--authorized-keys", "other.pub"]);
    let out = run(&mut c, b"secret");
    assert_eq!(out.status.code(), Some(253), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("server host key not trusted"), "{err}");
    assert!(err.contains("--authorized-keys"), "{err}");
    assert!(
        err.contains(server_pub.trim()),
        "should name the server's key: {err}"
    );
}

#[test]
fn untrusted_client_key_is_refused_with_a_helpful_message() {
    let env = Env::new();
    env.keys();
    let stranger = env.keygen("stranger");
    let (_s, ep) = env.serve(&["echo=echo"]);
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("echo");
    c.args(["--key", "stranger.key", "--authorized-keys", "server.pub"]);
    let out = run(&mut c, b"secret");
    assert_eq!(out.status.code(), Some(253), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("our key was refused by the server"), "{err}");
    assert!(
        err.contains(&stranger),
        "should print our public key to add: {err}"
    );

    // After the server trusts it (a restart with a new authorized_keys), it works.
    drop(_s);
    let both = format!(
        "{}{}",
        std::fs::read_to_string(env.path("client.pub")).expect("pub"),
        stranger + "\n"
    );
    std::fs::write(env.path("both.pub"), both).expect("write");
    let (_s2, ep2) = env.serve_with("tcp://127.0.0.1:0", "both.pub", &["echo=echo"]);
    let mut c = env.cmd();
    c.arg("open").arg(&ep2).arg("echo");
    c.args(["--key", "stranger.key", "--authorized-keys", "server.pub"]);
    let out = run(&mut c, b"secret");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "secret");
}

#[test]
fn known_hosts_decides_which_server_is_trusted() {
    let env = Env::new();
    env.keys();
    env.keygen("other");
    let server_pub = std::fs::read_to_string(env.path("server.pub")).expect("pub");
    let (_s, ep) = env.serve(&["echo=echo"]);
    let port = ep.rsplit(':').next().expect("port");
    std::fs::write(
        env.path("known_hosts"),
        format!("[127.0.0.1]:{port} {}", server_pub),
    )
    .expect("write");
    let wrong: u32 = port.parse::<u32>().expect("port") + 1;
    std::fs::write(
        env.path("wrong_hosts"),
        format!("[127.0.0.1]:{wrong} {}", server_pub),
    )
    .expect("write");

    // Listed for this host and port: trusted, although --authorized-keys is not.
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("echo");
    c.args([
        "--key",
        "client.key",
        "--authorized-keys",
        "other.pub",
        "--known-hosts",
        "known_hosts",
    ]);
    let out = run(&mut c, b"via known_hosts");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "via known_hosts");

    // Listed only for another port: refused, with advice naming the file.
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("echo");
    c.args([
        "--key",
        "client.key",
        "--authorized-keys",
        "server.pub",
        "--known-hosts",
        "wrong_hosts",
    ]);
    let out = run(&mut c, b"x");
    assert_eq!(out.status.code(), Some(253), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("server host key not trusted") && err.contains("wrong_hosts"),
        "{err}"
    );
}

#[test]
fn default_trust_uses_home_ssh() {
    // No --key / --authorized-keys on the client: ~/.ssh/id_ed25519 and
    // ~/.ssh/authorized_keys of its HOME are used.
    let env = Env::new();
    env.keys();
    let home = env.path("home/.ssh");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::copy(env.path("client.key"), home.join("id_ed25519")).expect("copy key");
    std::fs::copy(env.path("server.pub"), home.join("authorized_keys")).expect("copy pub");
    let (_s, ep) = env.serve(&["echo=echo"]);
    let out = run(env.cmd().arg("open").arg(&ep).arg("echo"), b"defaults");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "defaults");
}

// ---------------------------------------------------------------------------
// exit codes and usage

#[test]
fn open_exits_251_when_the_connection_is_lost() {
    let env = Env::new();
    env.keys();
    let (s, ep) = env.serve(&["hang=exec:echo started; sleep 30"]);
    let mut c = env.cmd();
    c.arg("open").arg(&ep).arg("hang").args(env.client_args());
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn open");
    let so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let mut open = Proc { child };
    assert_eq!(
        read_line_timeout(so, Duration::from_secs(20)).as_deref(),
        Some("started")
    );
    drop(s); // kill the server mid-channel
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = open.child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "open did not notice the lost connection"
        );
        thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = se.read_to_string(&mut err);
    assert_eq!(status.code(), Some(251), "{err}");
    assert!(err.contains("streamkit: error:"), "{err}");
}

#[test]
fn exit_codes_for_usage_and_connection_failures() {
    let env = Env::new();
    env.keys();
    // Usage errors: 2.
    let out = run(env.cmd().arg("open"), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(
        env.cmd()
            .args(["serve", "tcp://127.0.0.1:0", "--service", "x=bogus"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown action"), "{}", stderr(&out));
    let out = run(env.cmd().args(["serve", "tcp://127.0.0.1:0"]), b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "serve without services: {}",
        stderr(&out)
    );

    // Nothing listening: 254 after the connect timeout, with advice.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ep = format!("tcp://127.0.0.1:{port}");
    let t0 = Instant::now();
    let out = env.open(&ep, "echo", &["--connect-timeout", "300"], b"");
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not connect"),
        "{}",
        stderr(&out)
    );
    assert!(t0.elapsed() < Duration::from_secs(20));

    // A bad endpoint names itself.
    let out = env.open("tcp//nowhere", "echo", &[], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("tcp//nowhere"), "{}", stderr(&out));

    // A missing key file says how to make one.
    let out = run(
        env.cmd()
            .args(["open", &ep, "echo", "--key", "missing.key"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("streamkit keygen -f missing.key"),
        "{}",
        stderr(&out)
    );

    // serve on an address in use: 1.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = format!("tcp://127.0.0.1:{}", l.local_addr().expect("addr").port());
    let out = run(
        env.cmd()
            .args(["serve", &busy, "--key", "server.key", "--service", "e=echo"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot listen"), "{}", stderr(&out));
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    let env = Env::new();
    for sub in [
        "keygen",
        "serve",
        "open",
        "forward",
        "bench",
        "completions",
        "man",
    ] {
        let out = run(env.cmd().arg(sub).arg("--help"), b"");
        assert!(out.status.success(), "{sub} --help: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("Examples:"),
            "{sub} --help has no examples:\n{text}"
        );
        assert!(
            text.contains(&format!("streamkit {sub}")),
            "{sub} --help example does not use it:\n{text}"
        );
    }
    let out = run(env.cmd().arg("--help"), b"");
    assert!(out.status.success());
    for sub in [
        "keygen",
        "serve",
        "open",
        "forward",
        "bench",
        "completions",
        "man",
    ] {
        assert!(stdout(&out).contains(sub));
    }
}

#[cfg(unix)]
fn terminate_and_expect_exit_0(p: &mut Proc, what: &str) {
    sigterm(p);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = p.child.try_wait().expect("wait") {
            assert_eq!(code.code(), Some(0), "{what} exit status {code:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not exit after SIGTERM"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn serve_and_forward_exit_cleanly_on_sigterm() {
    let env = Env::new();
    env.keys();
    let (mut s, ep) = env.serve(&["echo=echo"]);
    let (mut f, _addr) = start_forward(&env, &ep, "echo");
    terminate_and_expect_exit_0(&mut f, "forward");
    terminate_and_expect_exit_0(&mut s, "serve");
}

// ---------------------------------------------------------------------------
// progress line

/// A service slow enough (1.5 s of silence) for the progress line to appear.
const SLOW: &str = "slow=exec:sleep 1.5; head -c 1000 /dev/zero";

#[test]
fn no_progress_line_when_stderr_is_piped() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&[SLOW]);
    let out = env.open(&ep, "slow", &["--quiet"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 1000);
    assert!(
        out.stderr.is_empty(),
        "stderr should be empty when piped: {:?}",
        stderr(&out)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn progress_line_when_stderr_is_a_terminal() {
    // util-linux `script` gives the command a terminal; stdout goes to a file.
    if Command::new("script").arg("--version").output().is_err() {
        panic!("this test needs util-linux `script` (apt-get install bsdutils)");
    }
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&[SLOW]);
    let args = env.client_args().join(" ");
    let inner = format!(
        "{BIN} open {ep} slow --quiet {args} < /dev/null > {}",
        env.path("out.bin").display()
    );
    let out = run(
        Command::new("script")
            .arg("-qec")
            .arg(&inner)
            .arg(env.path("typescript"))
            .env("HOME", env.path("home")),
        b"",
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let screen = stdout(&out);
    assert!(
        screen.contains("slow ") && screen.contains("B/s)"),
        "no progress line on the terminal: {screen:?}"
    );
    assert_eq!(std::fs::read(env.path("out.bin")).expect("out").len(), 1000);
}

// ---------------------------------------------------------------------------
// completions, man pages, messages in the CLI's words

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(env.cmd().args(["completions", shell]), b"");
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        for sub in ["keygen", "serve", "open", "forward", "authorized-keys"] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = run(env.cmd().args(["completions", "tcsh"]), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn man_pages_are_generated() {
    let env = Env::new();
    let out = run(env.cmd().arg("man"), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH streamkit 1"), "{page}");
    assert!(page.contains("serve"), "{page}");
    std::fs::create_dir(env.path("man1")).expect("mkdir");
    let out = run(env.cmd().args(["man", "--dir", "man1"]), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    for page in ["streamkit.1", "streamkit-serve.1", "streamkit-open.1"] {
        let text = std::fs::read_to_string(env.path("man1").join(page)).expect(page);
        assert!(text.contains(".TH"), "{page}: {text}");
    }
    let out = run(env.cmd().args(["man", "--dir", "missing"]), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--dir missing"), "{}", stderr(&out));
}

#[test]
fn keygen_does_not_create_a_missing_directory() {
    let env = Env::new();
    let out = run(env.cmd().args(["keygen", "-f", "nope/sub/k"]), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!env.path("nope").exists());
    // Only the default ~/.ssh is created, like ssh-keygen.
    let out = run(env.cmd().arg("keygen"), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(env.path("home/.ssh/id_ed25519").is_file());
}

#[test]
fn messages_name_flags_not_internal_options() {
    let env = Env::new();
    env.keys();
    std::fs::write(env.path("junk.key"), "not a key\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.path("junk.key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let out = run(
        env.cmd().args([
            "open",
            "tcp://127.0.0.1:9",
            "echo",
            "--key",
            "junk.key",
            "-a",
            "server.pub",
        ]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--key junk.key"), "{err}");
    assert!(!err.contains("PRIVATE_KEY"), "{err}");
    // A bad endpoint is a usage error for serve too, reported once.
    let out = run(
        env.cmd().args([
            "serve",
            "bogus://x",
            "--key",
            "server.key",
            "--service",
            "e=echo",
        ]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("bogus://x").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_slow_connect_says_what_it_waits_for() {
    let env = Env::new();
    env.keys();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ep = format!("tcp://127.0.0.1:{port}");
    // Nothing listens: the core retries until the 3 s limit; the notice
    // comes after 1 s, and the cause is given once.
    let out = env.open(&ep, "echo", &["--connect-timeout", "3000"], b"");
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("waiting for {ep}")), "{err}");
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
    assert_eq!(err.matches("within 3000 ms").count(), 1, "{err}");
}

/// Wait (liveness bound only) until `name`'s log contains `want`.
fn wait_for_log(env: &Env, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = env.log(name);
        if log.contains(want) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never logged {want:?}:\n{log}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_v_logs_connections_and_streamkit_log_is_checked() {
    let env = Env::new();
    env.keys();
    let mut c = env.cmd();
    c.args(["serve", "tcp://127.0.0.1:0", "-v", "--service", "echo=echo"])
        .arg("--key")
        .arg(env.path("server.key"))
        .arg("--authorized-keys")
        .arg(env.path("client.pub"));
    let log = std::fs::File::create(env.path("serve.log")).expect("log");
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
    let mut child = c.spawn().expect("spawn serve");
    let so = child.stdout.take().expect("stdout");
    let _serve = Proc { child };
    let ep = read_line_timeout(so, Duration::from_secs(20)).expect("endpoint");
    let out = env.open(&ep, "echo", &["--name", "logtest"], b"hi");
    assert!(out.status.success(), "{}", stderr(&out));
    let log = wait_for_log(
        &env,
        "serve.log",
        "streamkit: INFO accepted connection from logtest",
    );
    assert!(log.contains("opened \"echo\""), "{log}");
    wait_for_log(&env, "serve.log", "streamkit: INFO connection closed");

    // A bad STREAMKIT_LOG is a usage error that names the variable.
    let out = run(
        env.cmd().env("STREAMKIT_LOG", "streamkit_core=[").args([
            "serve",
            "tcp://127.0.0.1:0",
            "--key",
            "server.key",
            "--service",
            "e=echo",
        ]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("STREAMKIT_LOG"), "{}", stderr(&out));
}

#[test]
fn forward_checks_the_service_once_at_start_without_running_it() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["mark=exec:touch marker", "echo=echo"]);
    // A service the server does not offer: refused at start, exit 252.
    let mut c = env.cmd();
    c.arg("forward").arg("127.0.0.1:0").arg(&ep).arg("nope");
    c.args(env.client_args());
    let out = run(&mut c, b"");
    assert_eq!(out.status.code(), Some(252), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("refused service \"nope\""), "{err}");
    assert!(err.contains("this server offers: echo, mark"), "{err}");
    // An offered exec service: forward starts, and the check ran nothing.
    let mut c = env.cmd();
    c.arg("forward").arg("127.0.0.1:0").arg(&ep).arg("mark");
    c.args(env.client_args());
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn forward");
    let so = child.stdout.take().expect("stdout");
    let _fwd = Proc { child };
    let addr = read_line_timeout(so, Duration::from_secs(30)).expect("forward printed no address");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(
        !env.path("marker").exists(),
        "the start-up check ran the exec service"
    );
}

#[cfg(unix)]
#[test]
fn serve_writes_a_status_report_on_sigusr1() {
    let env = Env::new();
    env.keys();
    let (serve, ep) = env.serve(&["echo=echo"]);
    // A client whose channel stays open: stdin is kept open after "hello".
    let open = env.open_held(&ep, "watcher", b"hello");

    let pid = i32::try_from(serve.child.id()).expect("pid");
    // SAFETY: plain kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
    let log = wait_for_log(&env, "serve.log", "channel served");
    assert!(
        log.contains("streamkit: status: 1 connection, 1 channel served"),
        "{log}"
    );
    assert!(
        log.contains("connection watcher via tcp://127.0.0.1:"),
        "{log}"
    );
    let line = wait_for_log(&env, "serve.log", "\"echo\": sent 5 B");
    assert!(line.contains("watcher \"echo\": sent 5 B in"), "{line}");
    assert!(line.contains("received 5 B in"), "{line}");

    // Still serving afterwards: the signal did not stop it.
    let out = env.open(&ep, "echo", &[], b"again");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"again");
    drop(open);
}

// ---------------------------------------------------------------------------
// ping

fn ping(env: &Env, ep: &str, extra: &[&str]) -> Output {
    let mut c = env.cmd();
    c.arg("ping").arg(ep).args(env.client_args()).args(extra);
    run(&mut c, b"")
}

#[test]
fn ping_reports_the_server_handshake_and_round_trips() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve_custom("tcp://127.0.0.1:0", "client.pub", &["echo=echo"], |c| {
        c.arg("-v");
    });
    let out = ping(&env, &ep, &["-c", "3", "-i", "0"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(env.path("server.pub"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string());
    if let Some(fp) = fp.and_then(|l| l.split_whitespace().nth(1).map(str::to_string)) {
        assert!(
            text.contains(&fp),
            "server fingerprint {fp} missing: {text}"
        );
    }
    assert!(text.contains(&format!("PING {ep}")), "{text}");
    assert!(text.contains("connected in"), "{text}");
    for seq in 1..=3 {
        assert!(text.contains(&format!("seq={seq} time=")), "{text}");
    }
    assert!(!text.contains("seq=4"), "{text}");
    assert!(text.contains("3 round trips"), "{text}");
    // serve -v logged the connection with the client's key fingerprint.
    common_wait_log(&env, "fingerprint");
}

/// Wait until serve.log contains `what` (liveness bound only).
fn common_wait_log(env: &Env, what: &str) {
    for _ in 0..3000 {
        if env.log("serve.log").contains(what) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("serve.log lacks {what:?}: {}", env.log("serve.log"));
}

#[test]
fn ping_exit_codes_follow_the_cli() {
    let env = Env::new();
    env.keys();
    let (_s, ep) = env.serve(&["sink=discard"]);
    // A service that does not echo: refused (252), with a hint.
    let out = ping(&env, &ep, &["-c", "1", "-W", "300", "--service", "sink"]);
    assert_eq!(out.status.code(), Some(252), "{}", stderr(&out));
    assert!(stderr(&out).contains("does it echo"), "{}", stderr(&out));
    // An unknown service: refused too.
    let out = ping(&env, &ep, &["-c", "1", "--service", "nope"]);
    assert_eq!(out.status.code(), Some(252), "{}", stderr(&out));
    // Untrusted client key: 253.
    env.keygen("stranger");
    let mut c = env.cmd();
    c.arg("ping")
        .arg(&ep)
        .arg("--key")
        .arg(env.path("stranger.key"));
    c.arg("--authorized-keys").arg(env.path("server.pub"));
    let out = run(&mut c, b"");
    assert_eq!(out.status.code(), Some(253), "{}", stderr(&out));
    // -c 0 is a usage error.
    let out = ping(&env, &ep, &["-c", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// --stdio and --proxy-command

/// `serve --stdio ...` as a shell command line, for --proxy-command.
fn stdio_server(env: &Env, services: &[&str]) -> String {
    let mut cmd = format!(
        "{BIN} serve --stdio --key {} --authorized-keys {}",
        env.path("server.key").display(),
        env.path("client.pub").display()
    );
    for s in services {
        cmd += &format!(" --service '{s}'");
    }
    cmd + &format!(" 2>>{}", env.path("stdio.log").display())
}

#[test]
fn open_through_a_proxy_command_reaches_serve_stdio() {
    let env = Env::new();
    env.keys();
    let proxy = stdio_server(&env, &["echo=echo", "sh=exec:cat; exit 3"]);
    let data = data(300_000, 9);
    let out = env.open(
        "tcp://unused.example:1",
        "echo",
        &["--proxy-command", &proxy],
        &data,
    );
    assert!(
        out.status.success(),
        "{} / {}",
        stderr(&out),
        env.log("stdio.log")
    );
    assert!(
        out.stdout == data,
        "{} of {} bytes",
        out.stdout.len(),
        data.len()
    );
    // An exec service: exit status and data through the same pipe.
    let out = env.open(
        "tcp://unused.example:1",
        "sh",
        &["--proxy-command", &proxy],
        b"xyz",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(out.stdout, b"xyz");
    // serve --stdio exits when its connection ends: nothing is left running.
    let log = env.log("stdio.log");
    assert!(log.contains("serving echo, sh on stdin/stdout"), "{log}");
}

#[test]
fn proxy_command_tokens_and_errors() {
    let env = Env::new();
    env.keys();
    // %h and %p are substituted (the command echoes them to a file first).
    let seen = env.path("seen.txt");
    let proxy = format!(
        "echo %h:%p%% > {}; {}",
        seen.display(),
        stdio_server(&env, &["echo=echo"])
    );
    let out = env.open(
        "tcp://bastion.example:2222",
        "echo",
        &["--proxy-command", &proxy],
        b"hi",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap().trim(),
        "bastion.example:2222%"
    );
    // An unknown token is a usage error naming the flag.
    let out = env.open("tcp://h:1", "echo", &["--proxy-command", "nc %x"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--proxy-command: unknown token %x"),
        "{}",
        stderr(&out)
    );
    // A unix:// endpoint has no %h/%p.
    let out = env.open(
        "unix:///tmp/x.sock",
        "echo",
        &["--proxy-command", "true"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs a tcp://HOST:PORT"),
        "{}",
        stderr(&out)
    );
    // A command that exits at once fails the connect with a clear cause.
    let out = env.open(
        "tcp://h:1",
        "echo",
        &["--proxy-command", "exit 0", "--connect-timeout", "500"],
        b"",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tcp://h:1"), "{}", stderr(&out));
    // --stdio and an endpoint together are a usage error.
    let out = run(
        env.cmd()
            .args(["serve", "--stdio", "tcp://127.0.0.1:0", "-s", "e=echo"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// `serve` raises its soft descriptor limit to the hard limit (each
/// connection holds a descriptor; a soft limit of 1,024 locks clients out).
#[test]
fn serve_raises_the_soft_descriptor_limit() {
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    env.keys();
    let (serve, _ep) = env.serve_custom("tcp://127.0.0.1:0", "client.pub", &["echo=echo"], |c| {
        // SAFETY: setrlimit is async-signal-safe; it runs in the child
        // between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let mut r: libc::rlimit = std::mem::zeroed();
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
                r.rlim_cur = 256.min(r.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &r);
                Ok(())
            });
        }
    });
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", serve.child.id())).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums.len(), 2, "{line}");
    assert_eq!(
        nums[0], nums[1],
        "soft limit not raised to the hard limit: {line}"
    );
    assert_ne!(nums[0], "256", "{line}");
}

/// `serve --max-connections-per-key 1`: a second connection with the same
/// client key is refused, and the client says why.
#[test]
fn serve_limits_connections_per_key() {
    let env = Env::new();
    env.keys();
    let (_serve, ep) = env.serve_custom("tcp://127.0.0.1:0", "client.pub", &["echo=echo"], |c| {
        c.args(["--max-connections-per-key", "1"]);
    });
    // The first client keeps its connection (stdin stays open).
    let _first = env.open_held(&ep, "first", b"hi");
    let out = env.open(&ep, "echo", &["--name", "second"], b"x");
    assert!(
        !out.status.success(),
        "a second connection with the key was served"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already holds 1 connections"), "{err}");
    // A bad value is a usage error in the flag's words.
    let out = env
        .cmd()
        .args([
            "serve",
            "tcp://127.0.0.1:0",
            "--service",
            "e=echo",
            "--max-connections-per-key",
            "lots",
        ])
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-connections-per-key"));
}
