//! Identity keys and the trust set, from the files OpenSSH writes.
//!
//! Parsing is done by russh's key support (the `ssh-key` crate): private keys
//! in OpenSSH or PEM format, `authorized_keys` and `known_hosts` files.

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use russh::keys::ssh_key::{self, LineEnding};
use russh::keys::{Algorithm, PrivateKey, PublicKey};
use std::path::{Path, PathBuf};

fn home_ssh(file: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".ssh").join(file))
}

/// Generate a new ed25519 private key and return it as OpenSSH text.
pub fn generate_key() -> String {
    new_key()
        .to_openssh(LineEnding::LF)
        .map(|z| z.to_string())
        .unwrap_or_default()
}

pub(crate) fn new_key() -> PrivateKey {
    // Ed25519 generation cannot fail with a working OS RNG.
    #[allow(clippy::expect_used)]
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("ed25519 key generation")
}

fn looks_like_private_key_text(v: &str) -> bool {
    v.contains("-----BEGIN ")
}

/// Load PRIVATE_KEY: a path or the key text itself; `None` uses the defaults
/// (~/.ssh/id_ed25519, ~/.ssh/id_rsa, else a fresh in-memory ed25519 key).
pub(crate) fn load_identity(opt: Option<&str>) -> Result<PrivateKey> {
    match opt {
        Some(v) if looks_like_private_key_text(v) => decode_private(v, "the PRIVATE_KEY text"),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(format!("PRIVATE_KEY: cannot read key file {path:?}: {e}"))
            })?;
            decode_private(&text, &format!("key file {path:?}"))
        }
        None => {
            for f in ["id_ed25519", "id_rsa"] {
                if let Some(p) = home_ssh(f) {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        if let Ok(k) = decode_private(&text, &p.display().to_string()) {
                            return Ok(k);
                        }
                    }
                }
            }
            Ok(new_key())
        }
    }
}

fn decode_private(text: &str, what: &str) -> Result<PrivateKey> {
    match russh::keys::decode_secret_key(text, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(Error::invalid(format!(
            "PRIVATE_KEY: {what} is encrypted with a passphrase; streamkit needs an unencrypted key (ssh-keygen -p -N '' -f FILE)"
        ))),
        Err(e) => Err(Error::invalid(format!(
            "PRIVATE_KEY: {what} is not an OpenSSH or PEM private key: {e}"
        ))),
    }
}

/// The OpenSSH one-line form of a public key (`ssh-ed25519 AAAA...`).
pub(crate) fn public_line(k: &PublicKey) -> String {
    k.to_openssh().unwrap_or_default()
}

fn looks_like_key_text(v: &str) -> bool {
    v.lines().any(|l| {
        let l = l.trim();
        l.starts_with("ssh-")
            || l.starts_with("ecdsa-")
            || l.starts_with("sk-")
            || l.contains(" ssh-")
            || l.contains(" ecdsa-")
    }) && !Path::new(v).exists()
}

/// Load AUTHORIZED_KEYS: a path or the text; `None` uses ~/.ssh/authorized_keys if present.
pub(crate) fn load_authorized(opt: Option<&str>) -> Result<Vec<PublicKey>> {
    let (text, what) = match opt {
        Some(v) if looks_like_key_text(v) => {
            (v.to_string(), "the AUTHORIZED_KEYS text".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(format!("AUTHORIZED_KEYS: cannot read {path:?}: {e}"))
            })?,
            format!("authorized_keys file {path:?}"),
        ),
        None => match home_ssh("authorized_keys").and_then(|p| std::fs::read_to_string(p).ok()) {
            Some(t) => (t, "~/.ssh/authorized_keys".to_string()),
            None => return Ok(Vec::new()),
        },
    };
    let mut keys = Vec::new();
    for (i, entry) in ssh_key::AuthorizedKeys::new(&text).enumerate() {
        match entry {
            Ok(e) => keys.push(e.public_key().clone()),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "AUTHORIZED_KEYS: entry {} of {what} is not a valid public key line: {e}",
                    i + 1
                )))
            }
        }
    }
    Ok(keys)
}

/// KNOWN_HOSTS as configured: the raw option value.
#[derive(Debug, Clone)]
pub(crate) enum KnownHosts {
    Path(PathBuf),
    Text(String),
}

pub(crate) fn load_known_hosts(opt: Option<&str>) -> Result<Option<KnownHosts>> {
    Ok(match opt {
        None => None,
        Some(v) if looks_like_key_text(v) => {
            check_known_hosts_text(v)?;
            Some(KnownHosts::Text(v.to_string()))
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::invalid(format!("KNOWN_HOSTS: cannot read {path:?}: {e}")))?;
            check_known_hosts_text(&text)?;
            Some(KnownHosts::Path(PathBuf::from(path)))
        }
    })
}

fn check_known_hosts_text(text: &str) -> Result<()> {
    for (i, e) in ssh_key::KnownHosts::new(text).enumerate() {
        if let Err(e) = e {
            return Err(Error::invalid(format!(
                "KNOWN_HOSTS: entry {} is not a valid known_hosts line: {e}",
                i + 1
            )));
        }
    }
    Ok(())
}

/// Whether `key`, presented by the server at `ep`, is listed in `kh`.
pub(crate) fn known_host_ok(kh: &KnownHosts, ep: &Endpoint, key: &PublicKey) -> Result<bool> {
    if let (KnownHosts::Path(p), Endpoint::Tcp { host, port }) = (kh, ep) {
        return match russh::keys::check_known_hosts_path(host, *port, key, p) {
            Ok(found) => Ok(found),
            Err(russh::keys::Error::KeyChanged { line }) => Err(Error::Auth(format!(
                "server host key for {ep} does not match line {line} of known_hosts {}: the key changed (possible man-in-the-middle)",
                p.display()
            ))),
            Err(e) => Err(Error::Auth(format!("cannot check known_hosts {}: {e}", p.display()))),
        };
    }
    let text = match kh {
        KnownHosts::Path(p) => std::fs::read_to_string(p).unwrap_or_default(),
        KnownHosts::Text(t) => t.clone(),
    };
    let patterns: Vec<String> = match ep {
        Endpoint::Tcp { host, port } if *port == 22 => vec![host.clone()],
        Endpoint::Tcp { host, port } => vec![format!("[{host}]:{port}")],
        _ => Vec::new(),
    };
    for entry in ssh_key::KnownHosts::new(&text).flatten() {
        if entry.public_key().key_data() != key.key_data() {
            continue;
        }
        if patterns.is_empty() {
            return Ok(true);
        }
        if let ssh_key::known_hosts::HostPatterns::Patterns(ps) = entry.host_patterns() {
            if ps.iter().any(|p| patterns.iter().any(|q| q == p)) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The public keys a peer trusts: AUTHORIZED_KEYS plus its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustSet {
    keys: Vec<PublicKey>,
}

impl TrustSet {
    pub(crate) fn new(mut keys: Vec<PublicKey>, own: PublicKey) -> Self {
        keys.push(own);
        TrustSet { keys }
    }
    pub(crate) fn contains(&self, k: &PublicKey) -> bool {
        self.keys.iter().any(|t| t.key_data() == k.key_data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_roundtrips() {
        let text = generate_key();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        let k = load_identity(Some(&text)).unwrap();
        assert!(public_line(k.public_key()).starts_with("ssh-ed25519 "));
    }

    #[test]
    fn bad_keys_are_named() {
        let e = load_identity(Some("/nonexistent/key")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/key"), "{e}");
        let e = load_identity(Some(
            "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("PRIVATE_KEY"), "{e}");
        let e = load_authorized(Some("ssh-ed25519 notbase64!!")).unwrap_err();
        assert!(e.to_string().contains("entry 1"), "{e}");
    }
}
