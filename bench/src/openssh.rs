//! The OpenSSH baseline: `ssh ... 'cat > /dev/null'` and `ssh ... true`
//! against a private sshd on a loopback port. The bench listens on
//! 127.0.0.1:PORT itself and hands each accepted socket to `sshd -i` (inetd
//! mode, the same per-connection sshd process a daemon would fork), so the
//! sshd side's CPU time is counted through getrusage(RUSAGE_CHILDREN).
//! Cipher forced to aes128-gcm@openssh.com on both ends, ed25519 keys.

use crate::util::*;
use crate::Out;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::Command;

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Rig {
    dir: TempDir,
    user: String,
}

fn write_private(p: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())
}

impl Rig {
    /// Why OpenSSH rows cannot run here, if they cannot.
    pub fn unavailable() -> Option<String> {
        if !std::path::Path::new(SSHD).exists() {
            return Some(format!(
                "{SSHD} not found: OpenSSH rows skipped (apt-get install -y openssh-server)"
            ));
        }
        if which("ssh").is_none() {
            return Some(
                "ssh client not found: OpenSSH rows skipped (apt-get install -y openssh-client)"
                    .into(),
            );
        }
        None
    }

    pub fn new() -> Result<Rig, String> {
        let dir = TempDir::new("sshd").map_err(|e| e.to_string())?;
        let host = streamkit_core::generate_key();
        let client = streamkit_core::generate_key();
        let pub_line = russh::keys::decode_secret_key(&client, None)
            .map_err(|e| e.to_string())?
            .public_key()
            .to_openssh()
            .map_err(|e| e.to_string())?;
        write_private(&dir.0.join("host_key"), &host)?;
        write_private(&dir.0.join("id_ed25519"), &client)?;
        write_private(&dir.0.join("authorized_keys"), &format!("{pub_line}\n"))?;
        let d = dir.0.display();
        let cfg = format!(
            "HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile none\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nCiphers aes128-gcm@openssh.com\nLogLevel ERROR\nUseDNS no\n\
             PrintMotd no\nPrintLastLog no\n"
        );
        std::fs::write(dir.0.join("sshd_config"), cfg).map_err(|e| e.to_string())?;
        let _ = std::fs::create_dir_all("/run/sshd"); // privilege separation directory
        let user = std::process::Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .map_err(|e| format!("id -un: {e}"))?;
        Ok(Rig { dir, user })
    }

    /// Accept one connection on a fresh loopback port and serve it with `sshd -i`.
    async fn one_sshd(&self) -> Result<(u16, tokio::task::JoinHandle<Result<(), String>>), String> {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        let cfg = self.dir.0.join("sshd_config");
        let log = self.log();
        let t = tokio::spawn(async move {
            let (sock, _) = l.accept().await.map_err(|e| e.to_string())?;
            let std_sock = sock.into_std().map_err(|e| e.to_string())?;
            std_sock.set_nonblocking(false).map_err(|e| e.to_string())?;
            let fd: OwnedFd = std_sock.into();
            let fd2 = fd.try_clone().map_err(|e| e.to_string())?;
            let st = Command::new(SSHD)
                .arg("-i")
                .arg("-f")
                .arg(&cfg)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::from(fd))
                .stdout(Stdio::from(fd2))
                .stderr(Stdio::null())
                .status()
                .await
                .map_err(|e| format!("starting {SSHD}: {e}"))?;
            // sshd -i exits with 255 after an ordinary client disconnect; the
            // ssh client's exit status is what tells success.
            let _ = st;
            Ok(())
        });
        Ok((port, t))
    }

    fn log(&self) -> PathBuf {
        self.dir.0.join("sshd.log")
    }

    fn failed(&self, what: &str, out: &std::process::Output) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        format!(
            "{what} exited with {}: {} / sshd log: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            log.trim()
        )
    }

    fn ssh(&self, port: u16, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(self.dir.0.join("id_ed25519"))
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args([
                "-o",
                "Ciphers=aes128-gcm@openssh.com",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
            ])
            .args(["-o", "Compression=no", "-p"])
            .arg(port.to_string())
            .arg(format!("{}@127.0.0.1", self.user))
            .arg(remote);
        c
    }

    /// Scenario 1: `total` bytes in 64 KiB writes into `ssh ... 'cat > /dev/null'`.
    /// The far end discards the bytes, so only the count is checked (by
    /// ssh's and sshd's exit statuses and our write loop), not the content.
    pub async fn bulk(&self, total: u64) -> Out {
        let (port, srv) = self.one_sshd().await?;
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let mut child = self
            .ssh(port, "cat > /dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting ssh: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("ssh stdin")?;
        let mut off = 0u64;
        while off < total {
            let n = (total - off).min(WRITE as u64) as usize;
            stdin
                .write_all(&expected(off, n))
                .await
                .map_err(|e| format!("writing to ssh: {e}"))?;
            off += n as u64;
        }
        drop(stdin);
        let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
        let dt = t0.elapsed().as_secs_f64();
        srv.await.map_err(|j| j.to_string())??;
        let cpu = cpu_seconds() - cpu0;
        if !out.status.success() {
            return Err(self.failed("ssh", &out));
        }
        Ok(vec![("MB/s", total as f64 / dt / 1e6), ("CPU s", cpu)])
    }

    /// Scenario 5: `ssh host true`, wall time of the whole command, median ms of `n`.
    pub async fn setup(&self, n: usize) -> Out {
        let mut ms = Vec::new();
        for i in 0..=n {
            let (port, srv) = self.one_sshd().await?;
            let t = Instant::now();
            let out = self
                .ssh(port, "true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .await
                .map_err(|e| format!("starting ssh: {e}"))?;
            let dt = t.elapsed().as_secs_f64() * 1e3;
            srv.await.map_err(|j| j.to_string())??;
            if !out.status.success() {
                return Err(self.failed("ssh true", &out));
            }
            if i > 0 {
                ms.push(dt);
            }
        }
        Ok(vec![("setup ms", median(&ms))])
    }
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(prog))
        .find(|p| p.exists())
}
