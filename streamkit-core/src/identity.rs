//! Who is on the other end of a connection.

/// Who the remote of an SSH connection authenticated as.
#[derive(Debug, Clone)]
pub(crate) struct RemoteAuth {
    pub key: russh::keys::PublicKey,
    pub grant: crate::authz::Grant,
}

/// A remote's public key as channel metadata shows it: one OpenSSH line
/// without comment, and its SHA256 fingerprint as `ssh-keygen -l` prints it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub key: String,
    pub fingerprint: String,
}

impl Identity {
    pub(crate) fn of(k: &russh::keys::PublicKey) -> Identity {
        let mut k = k.clone();
        k.set_comment("");
        Identity {
            key: crate::keys::public_line(&k),
            fingerprint: k.fingerprint(russh::keys::HashAlg::Sha256).to_string(),
        }
    }
}
