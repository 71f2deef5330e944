//! Identity keys and the trust set, from the files OpenSSH writes.
//!
//! Parsing is done by russh's key support (the `ssh-key` crate): private keys
//! in OpenSSH or PEM format, `authorized_keys` and `known_hosts` files.

use crate::authz::{self, AuthorizedKeys, Grant, Source};
use crate::endpoint::Target;
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

/// The OpenSSH public key line (no comment) of a private key given as a
/// path or as key text, as PRIVATE_KEY takes it, with the same checks (file
/// mode, encryption, refused key types).
pub fn public_key_of(private_key: &str) -> Result<String> {
    Ok(public_line(load_identity(Some(private_key))?.public_key()))
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
/// (~/.ssh/id_ed25519, else ~/.ssh/id_rsa, else a fresh in-memory ed25519
/// key). A default file that exists must be usable: it is an error, never
/// silently replaced by a temporary key, if it cannot be read or decoded, is
/// encrypted, is readable by others, or is a refused key type.
pub(crate) fn load_identity(opt: Option<&str>) -> Result<PrivateKey> {
    match opt {
        Some(v) if looks_like_private_key_text(v) => decode_private(v, "the PRIVATE_KEY text"),
        Some(path) => load_key_file(Path::new(path), false),
        None => {
            for f in ["id_ed25519", "id_rsa"] {
                if let Some(p) = home_ssh(f) {
                    if p.exists() {
                        return load_key_file(&p, true);
                    }
                }
            }
            Ok(new_key())
        }
    }
}

/// Load a key file; `default` says it is one of the ~/.ssh defaults (the
/// message then says PRIVATE_KEY was not set).
fn load_key_file(path: &Path, default: bool) -> Result<PrivateKey> {
    let shown = path.display();
    let r = check_private_mode(path)
        .map_err(|e| Error::invalid(format!("PRIVATE_KEY: {e}")))
        .and_then(|()| {
            std::fs::read_to_string(path).map_err(|e| {
                Error::invalid(format!("PRIVATE_KEY: cannot read key file {shown:?}: {e}"))
            })
        })
        .and_then(|text| decode_private(&text, &format!("key file {shown:?}")));
    match r {
        Err(Error::Invalid(m)) if default => Err(Error::invalid(format!(
            "PRIVATE_KEY is not set and the default key cannot be used (streamkit does not fall back to a temporary key): {m}"
        ))),
        r => r,
    }
}

/// Refuse a private key file that its group or others may read or write,
/// as OpenSSH does ("UNPROTECTED PRIVATE KEY FILE").
#[cfg(unix)]
fn check_private_mode(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(path)
        .map_err(|e| format!("cannot read key file {:?}: {e}", path.display()))?;
    let mode = md.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "key file {:?} is accessible by group or others (mode {mode:03o}); a private key must be readable by its owner only: run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_: &Path) -> std::result::Result<(), String> {
    Ok(())
}

fn decode_private(text: &str, what: &str) -> Result<PrivateKey> {
    let k = match russh::keys::decode_secret_key(text, None) {
        Ok(k) => k,
        Err(russh::keys::Error::KeyIsEncrypted) => return Err(Error::invalid(format!(
            "PRIVATE_KEY: {what} is encrypted with a passphrase; streamkit needs an unencrypted key (ssh-keygen -p -N '' -f FILE)"
        ))),
        Err(e) => return Err(Error::invalid(format!(
            "PRIVATE_KEY: {what} is not an OpenSSH or PEM private key: {e}"
        ))),
    };
    authz::check_key_strength(k.public_key())
        .map_err(|why| Error::invalid(format!("PRIVATE_KEY: {what}: {why}")))?;
    Ok(k)
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

/// What AUTHORIZED_KEYS's content is loaded from, as of now: the option's
/// text, or the file's identity and modification stamp. Equal stamps mean
/// equal content (a file is re-read once it changes), so a bound peer does
/// not parse it again for every socket a stranger opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthorizedStamp {
    Text(String),
    File {
        path: PathBuf,
        dev: u64,
        ino: u64,
        len: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
    },
    /// The default file does not exist (or HOME is unset).
    NoDefault(Option<PathBuf>),
}

impl AuthorizedStamp {
    /// Whether content read now can be remembered under this stamp. A file
    /// changed in the last two seconds cannot: the kernel's timestamps tick
    /// every few ms, so another write of the same length within that tick
    /// would leave the stamp unchanged (git's "racily clean" problem).
    pub(crate) fn settled(&self) -> bool {
        match self {
            AuthorizedStamp::File { mtime, ctime, .. } => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                now - mtime.0.max(ctime.0) > 2
            }
            _ => true,
        }
    }
}

/// The stamp of AUTHORIZED_KEYS now; `None` when it cannot be taken (the
/// load then reports why).
pub(crate) fn authorized_stamp(opt: Option<&str>) -> Option<AuthorizedStamp> {
    use std::os::unix::fs::MetadataExt;
    let file = |p: PathBuf| -> Option<AuthorizedStamp> {
        let m = std::fs::metadata(&p).ok()?;
        Some(AuthorizedStamp::File {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            path: p,
        })
    };
    match opt {
        Some(v) if looks_like_key_text(v) => Some(AuthorizedStamp::Text(v.to_string())),
        Some(path) => file(PathBuf::from(path)),
        None => match home_ssh("authorized_keys") {
            Some(p) if p.exists() => file(p),
            p => Some(AuthorizedStamp::NoDefault(p)),
        },
    }
}

/// Load AUTHORIZED_KEYS: a path or the text; `None` uses ~/.ssh/authorized_keys if present.
pub(crate) fn load_authorized(opt: Option<&str>) -> Result<AuthorizedKeys> {
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
            None => return Ok(AuthorizedKeys::default()),
        },
    };
    authz::parse_authorized(&text, &what)
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
            parse_known_hosts(v, "the KNOWN_HOSTS text")?;
            Some(KnownHosts::Text(v.to_string()))
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::invalid(format!("KNOWN_HOSTS: cannot read {path:?}: {e}")))?;
            parse_known_hosts(&text, &format!("known_hosts file {path:?}"))?;
            Some(KnownHosts::Path(PathBuf::from(path)))
        }
    })
}

/// The entries of known_hosts text with their 1-based line numbers; weak
/// keys (DSA, RSA under 2048 bits) are load errors.
fn parse_known_hosts(text: &str, what: &str) -> Result<Vec<(usize, ssh_key::known_hosts::Entry)>> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let e: ssh_key::known_hosts::Entry = l.parse().map_err(|e| {
            Error::invalid(format!(
                "KNOWN_HOSTS: line {} of {what} is not a valid known_hosts line: {e}",
                i + 1
            ))
        })?;
        authz::check_key_strength(e.public_key()).map_err(|why| {
            Error::invalid(format!("KNOWN_HOSTS: line {} of {what}: {why}", i + 1))
        })?;
        out.push((i + 1, e));
    }
    Ok(out)
}

/// Whether a known_hosts host field matches `host` (`HOST` or `[HOST]:PORT`):
/// comma-separated `*`/`?` patterns where a matching `!pattern` refuses, or
/// one hashed name (`|1|salt|hash`, HMAC-SHA1 as ssh-keygen -H writes).
fn host_matches(pats: &ssh_key::known_hosts::HostPatterns, host: &str) -> bool {
    use hmac::{Hmac, KeyInit, Mac};
    match pats {
        ssh_key::known_hosts::HostPatterns::Patterns(ps) => {
            let host = host.to_ascii_lowercase();
            let mut hit = false;
            for p in ps {
                let (neg, p) = match p.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, p.as_str()),
                };
                if authz::wildcard(p.to_ascii_lowercase().as_bytes(), host.as_bytes()) {
                    if neg {
                        return false;
                    }
                    hit = true;
                }
            }
            hit
        }
        ssh_key::known_hosts::HostPatterns::HashedName { salt, hash } => {
            Hmac::<sha1::Sha1>::new_from_slice(salt)
                .map(|m| m.chain_update(host.as_bytes()).verify_slice(hash).is_ok())
                .unwrap_or(false)
        }
    }
}

/// Whether `key`, presented by the server at `ep`, is listed in `kh`.
///
/// A key on an `@revoked` line is refused whatever the host; `@cert-authority`
/// lines never vouch for a plain host key. For TCP a plain line must match
/// `HOST` (port 22) or `[HOST]:PORT`; a Unix socket has no host name, so any
/// plain line listing the key matches.
pub(crate) fn known_host_ok(kh: &KnownHosts, ep: &Target, key: &PublicKey) -> Result<bool> {
    use ssh_key::known_hosts::Marker;
    let (text, what) = match kh {
        KnownHosts::Path(p) => (
            std::fs::read_to_string(p).map_err(|e| {
                Error::Auth(format!("cannot read known_hosts {}: {e}", p.display()))
            })?,
            format!("known_hosts {}", p.display()),
        ),
        KnownHosts::Text(t) => (t.clone(), "the KNOWN_HOSTS text".to_string()),
    };
    let entries = parse_known_hosts(&text, &what)?;
    for (line, e) in &entries {
        if matches!(e.marker(), Some(Marker::Revoked))
            && e.public_key().key_data() == key.key_data()
        {
            return Err(Error::Auth(format!(
                "server host key of {ep} is revoked (@revoked on line {line} of {what})"
            )));
        }
    }
    let host = ep.known_hosts_name();
    let mut changed = None;
    for (line, e) in &entries {
        if e.marker().is_some() {
            continue;
        }
        let same = e.public_key().key_data() == key.key_data();
        match &host {
            None if same => return Ok(true),
            None => {}
            Some(h) if host_matches(e.host_patterns(), h) => {
                if same {
                    return Ok(true);
                }
                if e.public_key().algorithm() == key.algorithm() && changed.is_none() {
                    changed = Some(*line);
                }
            }
            Some(_) => {}
        }
    }
    if let Some(line) = changed {
        return Err(Error::Auth(format!(
            "server host key for {ep} does not match line {line} of {what}: the key changed (possible man-in-the-middle)"
        )));
    }
    // Not trusted. Say so clearly if an @cert-authority line was meant to
    // vouch: streamkit does not accept host certificates, so such lines
    // never make a key trusted.
    for (line, e) in &entries {
        if !matches!(e.marker(), Some(Marker::CertAuthority)) {
            continue;
        }
        let for_host = host
            .as_ref()
            .is_none_or(|h| host_matches(e.host_patterns(), h));
        if e.public_key().key_data() == key.key_data() || for_host {
            return Err(Error::Auth(format!(
                "server host key of {ep} is not trusted: line {line} of {what} is an @cert-authority line, and streamkit does not accept host certificates, so it trusts no key through it; list the host key itself on a plain line (HOST KEY)"
            )));
        }
    }
    Ok(false)
}

/// The keys a peer trusts: AUTHORIZED_KEYS (with each line's options) plus
/// its own key, which is trusted without restriction unless AUTHORIZED_KEYS
/// lists it (its lines then decide, like any other key's).
#[derive(Debug, Clone)]
pub(crate) struct TrustSet {
    authorized: AuthorizedKeys,
    own: PublicKey,
}

impl TrustSet {
    pub(crate) fn new(authorized: AuthorizedKeys, own: PublicKey) -> Self {
        TrustSet { authorized, own }
    }

    /// Whether AUTHORIZED_KEYS or the own key names `key` (whatever the options).
    pub(crate) fn lists(&self, key: &PublicKey) -> bool {
        self.authorized.lists(key) || key.key_data() == self.own.key_data()
    }

    /// Whether `key` may connect from `src` (as `name`, when known yet); the
    /// refusal is a message naming the key and every line that refused it.
    pub(crate) fn authorize(
        &self,
        key: &PublicKey,
        src: &Source,
        name: Option<&str>,
    ) -> std::result::Result<Grant, String> {
        if !self.authorized.lists(key) && key.key_data() == self.own.key_data() {
            return Ok(Grant::default());
        }
        match self.authorized.authorize(key, src, name, authz::now_unix()) {
            Ok(g) => Ok(g),
            Err(why) if why.is_empty() => Err(format!(
                "key {} is not in AUTHORIZED_KEYS",
                public_line(key)
            )),
            Err(why) => Err(format!("key {}: {}", public_line(key), why.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorized_stamps_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ak");
        std::fs::write(&p, "ssh-ed25519 AAAA one\n").unwrap();
        let path = p.to_str().unwrap();
        let a = authorized_stamp(Some(path)).unwrap();
        assert_eq!(
            authorized_stamp(Some(path)).unwrap(),
            a,
            "unchanged file, same stamp"
        );
        assert!(!a.settled(), "a file written just now is not remembered");
        std::fs::write(&p, "ssh-ed25519 AAAA one two\n").unwrap();
        assert_ne!(authorized_stamp(Some(path)).unwrap(), a);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(
            authorized_stamp(Some(path)),
            None,
            "a missing file: load reports it"
        );
        let t = authorized_stamp(Some("ssh-ed25519 AAAA x")).unwrap();
        assert!(t.settled());
        assert_eq!(t, AuthorizedStamp::Text("ssh-ed25519 AAAA x".into()));
    }

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
        assert!(
            e.to_string().contains("line 1 of the AUTHORIZED_KEYS text"),
            "{e}"
        );
    }
}
