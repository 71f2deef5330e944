//! The SSH transport: russh client and server handlers, the socket wrapper
//! that keeps russh's session loop from blocking on writes, and connection
//! setup (key exchange, mutual authentication, hello).

use crate::authz::Source;
use crate::channel::BoxFuture;
use crate::channel::Tx;
use crate::conn::{Conn, ConnKind, ConnOwner, Limits, SshLink, SshState};
use crate::endpoint::Target;
use crate::error::{Error, Result};
use crate::identity::RemoteAuth;
use crate::keys::{self, KnownHosts, TrustSet};
use crate::proto::{Ctl, EXT_CONTROL, EXT_ERRORS, VERSION};
use crate::slab::{RecvSlabs, SlabPool};
use crate::startups::Slot;
use crate::sync::lock;
use crate::writer::NbStream;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::server::{Auth, Msg as ServerMsg, Session as ServerSession};
use russh::{client, server, Channel, ChannelId, Preferred};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// SSH-level window: large, because streamkit's own credit (CHANNEL_WINDOW)
/// is what bounds memory; russh replenishes this one on arrival anyway.
const SSH_WINDOW: u32 = 64 * 1024 * 1024;
const SSH_MAX_PACKET: u32 = 65535;

/// Whether this CPU has AES and carry-less multiply instructions (what makes
/// AES-GCM fast); detected once.
fn cpu_has_aes() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
        }
        #[cfg(target_arch = "aarch64")]
        {
            std::arch::is_aarch64_feature_detected!("aes")
                && std::arch::is_aarch64_feature_detected!("pmull")
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
        {
            false
        }
    })
}

/// The AEAD ciphers offered, fastest first for a CPU with or without AES
/// instructions: with them AES-GCM is faster than chacha20-poly1305; without
/// them chacha20-poly1305 is several times faster than a software AES-GCM. (The client's order decides, RFC 4253 §7.1.)
fn cipher_order(aes: bool) -> &'static [russh::cipher::Name] {
    use russh::cipher;
    if aes {
        &[
            cipher::AES_128_GCM,
            cipher::AES_256_GCM,
            cipher::CHACHA20_POLY1305,
        ]
    } else {
        &[
            cipher::CHACHA20_POLY1305,
            cipher::AES_128_GCM,
            cipher::AES_256_GCM,
        ]
    }
}

/// Whether a client may sign with `a`: exactly the KEY_ALGORITHMS, matched
/// field by field (comparing the enums whole reads the padding of the
/// variants without a payload, which valgrind reports).
fn signature_algorithm_allowed(a: &russh::keys::Algorithm) -> bool {
    use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
    match a {
        Algorithm::Ed25519 => true,
        Algorithm::Ecdsa { curve } => matches!(
            curve,
            EcdsaCurve::NistP256 | EcdsaCurve::NistP384 | EcdsaCurve::NistP521
        ),
        Algorithm::Rsa { hash } => matches!(hash, Some(HashAlg::Sha256 | HashAlg::Sha512)),
        _ => false,
    }
}

/// Host key and public key signature algorithms: russh's defaults without
/// SHA-1 `ssh-rsa` (RSA keys sign with rsa-sha2-512/256 only, as OpenSSH
/// 8.8 and later require).
const KEY_ALGORITHMS: &[russh::keys::Algorithm] = {
    use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
    &[
        Algorithm::Ed25519,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384,
        },
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP521,
        },
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha256),
        },
    ]
};

/// The key exchanges offered, in both roles: only elliptic-curve and hybrid
/// post-quantum ones, each costing the server well under a millisecond of
/// CPU. The finite-field Diffie-Hellman groups (14 to 18) and group exchange
/// that russh offers by default are left out: one unauthenticated group18
/// handshake costs the server about a second of CPU on a runtime worker, so
/// a handful of sockets could starve every established channel. The last
/// four names are the extension markers (ext-info, strict kex) that russh
/// expects in this list; it sends only the ones for its role.
const KEX_ORDER: &[russh::kex::Name] = &[
    russh::kex::MLKEM768X25519_SHA256,
    russh::kex::CURVE25519,
    russh::kex::CURVE25519_PRE_RFC_8731,
    russh::kex::ECDH_SHA2_NISTP256,
    russh::kex::EXTENSION_SUPPORT_AS_CLIENT,
    russh::kex::EXTENSION_SUPPORT_AS_SERVER,
    russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

fn preferred() -> Preferred {
    Preferred {
        kex: Cow::Borrowed(KEX_ORDER),
        cipher: Cow::Borrowed(cipher_order(cpu_has_aes())),
        key: Cow::Borrowed(KEY_ALGORITHMS),
        ..Preferred::default()
    }
}

/// What a connection needs from the peer's options.
#[derive(Clone)]
pub(crate) struct ConnSettings {
    pub name: String,
    pub key: Arc<PrivateKey>,
    pub trust: Arc<TrustSet>,
    pub known_hosts: Option<KnownHosts>,
    pub limits: Limits,
    pub handshake_timeout: Duration,
    pub keepalive: Option<(Duration, usize)>,
    /// The peer's receive slabs (shared by its connections).
    pub slabs: Arc<SlabPool>,
}

// ---------------------------------------------------------------------------
// The session under a connection, as the connection layer sees it.

struct ClientLink(Arc<client::Handle<ClientHandler>>);

impl SshLink for ClientLink {
    fn open_session(&self) -> BoxFuture<'_, std::result::Result<(ChannelId, Tx), russh::Error>> {
        Box::pin(async move {
            let ch = self.0.channel_open_session().await?;
            let id = ch.id();
            let (_, w) = ch.split();
            Ok((id, Tx::SshClient(w)))
        })
    }

    fn disconnect(&self, reason: String) -> BoxFuture<'static, ()> {
        let h = self.0.clone();
        Box::pin(async move {
            let _ = h
                .disconnect(russh::Disconnect::ByApplication, &reason, "en")
                .await;
        })
    }
}

struct ServerLink(server::Handle);

impl SshLink for ServerLink {
    fn open_session(&self) -> BoxFuture<'_, std::result::Result<(ChannelId, Tx), russh::Error>> {
        Box::pin(async move {
            let ch = self.0.channel_open_session().await?;
            let id = ch.id();
            let (_, w) = ch.split();
            Ok((id, Tx::SshServer(w)))
        })
    }

    fn disconnect(&self, reason: String) -> BoxFuture<'static, ()> {
        let h = self.0.clone();
        Box::pin(async move {
            let _ = h
                .disconnect(russh::Disconnect::ByApplication, reason, "en".into())
                .await;
        })
    }
}

// ---------------------------------------------------------------------------
// Client side.

pub(crate) struct ClientHandler {
    conn: Arc<Conn>,
    trust: Arc<TrustSet>,
    known_hosts: Option<KnownHosts>,
    ep: Target,
    /// The server's address, for `from=` on its AUTHORIZED_KEYS line.
    src: Source,
    rejected: Arc<Mutex<Option<Error>>>,
    slabs: RecvSlabs,
}

impl Drop for ClientHandler {
    fn drop(&mut self) {
        self.conn.on_lost("SSH session ended");
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *lock(&self.rejected) = Some(Error::Auth(format!(
                "server {} presented a certificate; streamkit trusts plain keys only",
                self.ep
            )));
            return Ok(false);
        };
        let line = keys::public_line(key);
        let verdict = match &self.known_hosts {
            Some(kh) => match keys::known_host_ok(kh, &self.ep, key) {
                Ok(true) => {
                    self.conn.set_remote_auth(RemoteAuth {
                        key: key.clone(),
                        grant: Default::default(),
                    });
                    Ok(())
                }
                Ok(false) => Err(Error::Auth(format!(
                    "server host key of {} is not in KNOWN_HOSTS: add `{line}` for that host to the known_hosts file",
                    self.ep
                ))),
                Err(e) => Err(e),
            },
            None => match self.trust.authorize(key, &self.src, None) {
                Ok(grant) => {
                    self.conn.set_remote_auth(RemoteAuth {
                        key: key.clone(),
                        grant,
                    });
                    Ok(())
                }
                Err(why) if self.trust.lists(key) => Err(Error::Auth(format!(
                    "server host key of {} is not trusted: {why}",
                    self.ep
                ))),
                Err(_) => Err(Error::Auth(format!(
                    "server host key of {} is not trusted: add `{line}` to AUTHORIZED_KEYS (or set KNOWN_HOSTS)",
                    self.ep
                ))),
            },
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::warn!("{e}");
                self.conn.ev.push(
                    self.conn
                        .event(crate::EventKind::AuthFailed)
                        .fingerprint_of(key)
                        .reason(format!("we refused the server's host key: {e}")),
                );
                *lock(&self.rejected) = Some(e);
                Ok(false)
            }
        }
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        // The server's SSH_MSG_DISCONNECT description becomes the reason of
        // the `Disconnected` event (then as russh's default handler does).
        match reason {
            client::DisconnectReason::ReceivedDisconnect(info) => {
                // Refused during the hello exchange (PROTOCOL.md 5.2): the
                // server checked our HELLO and will check it the same way
                // next time, so this is permanent. "peer shut down" is the
                // server going away, not a refusal.
                if !self.conn.is_established()
                    && matches!(info.reason_code, russh::Disconnect::ByApplication)
                    && info.message != "peer shut down"
                {
                    let mut r = lock(&self.rejected);
                    if r.is_none() {
                        *r = Some(Error::Protocol(format!(
                            "{} refused the hello exchange: {}",
                            self.ep,
                            if info.message.is_empty() {
                                "no description"
                            } else {
                                &info.message
                            }
                        )));
                    }
                }
                self.conn.on_lost(&format!(
                    "the remote disconnected: {}",
                    if info.message.is_empty() {
                        "no description"
                    } else {
                        &info.message
                    }
                ));
                Ok(())
            }
            client::DisconnectReason::Error(e) => Err(e),
        }
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        self.conn.ssh_data(channel, 0, data, &mut self.slabs);
        Ok(())
    }

    async fn extended_data(
        &mut self,
        channel: ChannelId,
        ext: u32,
        data: &[u8],
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        dispatch_ext(&self.conn, channel, ext, data, &mut self.slabs);
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        self.conn.ssh_channel_closed(channel);
        Ok(())
    }

    async fn server_channel_open_session(
        &mut self,
        channel: Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        if !self.conn.ssh_channel_allowed() {
            reply
                .reject(russh::ChannelOpenFailure::ResourceShortage)
                .await;
            return Ok(());
        }
        reply.accept().await;
        let id = channel.id();
        let (r, w) = channel.split();
        drop(r);
        self.conn
            .add_slot(id, Arc::new(Tx::SshClient(w)), false, false);
        Ok(())
    }
    // Every other channel type a server may open is refused with exactly one
    // CHANNEL_OPEN_FAILURE (russh's defaults accept them; for an unknown
    // type its default path would send two failures).
    async fn server_channel_open_x11(
        &mut self,
        _channel: Channel<client::Msg>,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "x11").await;
        Ok(())
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        _channel: Channel<client::Msg>,
        _connected_address: &str,
        _connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "forwarded-tcpip").await;
        Ok(())
    }

    async fn server_channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<client::Msg>,
        _host_to_connect: &str,
        _port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "direct-tcpip").await;
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        _channel: Channel<client::Msg>,
        _socket_path: &str,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "forwarded-streamlocal").await;
        Ok(())
    }

    async fn server_channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<client::Msg>,
        _socket_path: &str,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "direct-streamlocal").await;
        Ok(())
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        _channel: Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        refuse_type(reply, "auth-agent").await;
        Ok(())
    }

    async fn should_accept_unknown_server_channel(
        &mut self,
        _id: ChannelId,
        _channel_type: &str,
    ) -> bool {
        // Taken so that server_channel_open_unknown answers it, once.
        true
    }

    async fn server_channel_open_unknown(
        &mut self,
        _channel: Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        tracing::debug!("refusing an SSH channel of an unknown type");
        reply
            .reject(russh::ChannelOpenFailure::UnknownChannelType)
            .await;
        Ok(())
    }
}

/// Refuse an SSH channel of a type streamkit does not use (one
/// CHANNEL_OPEN_FAILURE, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED).
async fn refuse_type(reply: client::ChannelOpenHandle, ty: &str) {
    tracing::debug!("refusing an SSH channel of type {ty}");
    reply
        .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
        .await;
}

fn dispatch_ext(
    conn: &Arc<Conn>,
    channel: ChannelId,
    ext: u32,
    data: &[u8],
    slabs: &mut RecvSlabs,
) {
    match ext {
        EXT_ERRORS => conn.ssh_data(channel, 1, data, slabs),
        EXT_CONTROL => conn.ssh_ctl(channel, data),
        other => tracing::debug!("ignoring extended data type {other}"),
    }
}

fn client_config(s: &ConnSettings) -> client::Config {
    client::Config {
        window_size: SSH_WINDOW,
        maximum_packet_size: SSH_MAX_PACKET,
        preferred: preferred(),
        nodelay: true,
        inactivity_timeout: None,
        keepalive_interval: s.keepalive.map(|k| k.0),
        keepalive_max: s.keepalive.map(|k| k.1).unwrap_or(3),
        ..Default::default()
    }
}

/// Run the client side of a connection over `stream`: key exchange, server
/// key check, public-key auth as `settings.name`, hello.
pub(crate) async fn connect<S>(
    peer: &Arc<dyn ConnOwner>,
    settings: &ConnSettings,
    ep: &Target,
    src: Source,
    stream: S,
) -> Result<Arc<Conn>>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let conn = Conn::new(
        Arc::downgrade(peer),
        settings.name.clone(),
        true,
        ep.to_string(),
        ConnKind::Ssh(SshState::default()),
        settings.limits,
    );
    let rejected = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        conn: conn.clone(),
        trust: settings.trust.clone(),
        known_hosts: settings.known_hosts.clone(),
        ep: ep.clone(),
        src,
        rejected: rejected.clone(),
        slabs: RecvSlabs::new(settings.slabs.clone()),
    };
    let cfg = Arc::new(client_config(settings));
    let setup = async {
        let nb = NbStream::<()>::new(stream, conn.kill.clone(), conn.io_done.clone());
        conn.set_write_gate(nb.gate());
        let mut handle = match client::connect_stream(cfg, nb, handler).await {
            Ok(h) => h,
            Err(e) => {
                if let Some(r) = lock(&rejected).take() {
                    return Err(r);
                }
                return Err(Error::Io(format!("SSH handshake with {ep} failed: {e}")));
            }
        };
        // Never SHA-1 ssh-rsa: rsa-sha2-256 unless the server announces 512.
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
            .or(Some(russh::keys::HashAlg::Sha256));
        let auth = handle
            .authenticate_publickey(
                settings.name.clone(),
                PrivateKeyWithHashAlg::new(settings.key.clone(), hash),
            )
            .await
            .map_err(|e| Error::Io(format!("authentication exchange with {ep} failed: {e}")))?;
        if !auth.success() {
            conn.emit(
                crate::EventKind::AuthFailed,
                format!(
                    "the server refused our key {} or our name {:?}",
                    settings
                        .key
                        .public_key()
                        .fingerprint(russh::keys::HashAlg::Sha256),
                    settings.name
                ),
            );
            return Err(Error::Auth(format!(
                "{ep} refused our key or our name {:?}: add `{}` to its AUTHORIZED_KEYS; if it is listed there, the server's log says why (from=, expiry-time=, streamkit-names=, an option streamkit cannot honour, or the name is taken)",
                settings.name,
                keys::public_line(settings.key.public_key())
            )));
        }
        let handle = Arc::new(handle);
        let ch = handle
            .channel_open_session()
            .await
            .map_err(|e| Error::Io(format!("opening the control channel to {ep} failed: {e}")))?;
        let id = ch.id();
        let (r, w) = ch.split();
        drop(r);
        let tx = Arc::new(Tx::SshClient(w));
        conn.add_slot(id, tx.clone(), false, true);
        let ConnKind::Ssh(ssh) = &conn.kind else {
            return unreachable_conn();
        };
        let _ = ssh.link.set(Box::new(ClientLink(handle)));
        conn.note_hello_sent();
        tx.ctl(Ctl::Hello {
            version: VERSION,
            name: settings.name.clone(),
            window: settings.limits.window as u32,
        })
        .await?;
        if !conn.wait_hello().await {
            if let Some(r) = lock(&rejected).take() {
                return Err(r);
            }
            return Err(Error::closed(format!(
                "{ep} closed the connection during the hello exchange ({})",
                conn.lost_reason()
                    .unwrap_or_else(|| "no reason given".into())
            )));
        }
        // The server's name must be one its key may use.
        let name = conn.remote_name();
        if let Some(a) = conn.remote_auth() {
            if !a.grant.allows_name(&name) {
                return Err(Error::Auth(format!(
                    "server {ep} calls itself {name:?}, which the streamkit-names=\"{}\" of its key's AUTHORIZED_KEYS line does not allow",
                    a.grant.names.as_deref().unwrap_or_default().join(",")
                )));
            }
            peer.name_claim(&name, &a.key)
                .map_err(|why| Error::Auth(format!("server {ep} refused: {why}")))?;
        }
        Ok(())
    };
    match tokio::time::timeout(settings.handshake_timeout, setup).await {
        Ok(Ok(())) => Ok(conn),
        Ok(Err(e)) => {
            conn.close(&format!("setup failed: {e}"));
            Err(e)
        }
        Err(_) => {
            conn.close("handshake timeout");
            Err(Error::Timeout(format!(
                "SSH handshake with {ep} did not complete within {} ms (HANDSHAKE_TIMEOUT)",
                settings.handshake_timeout.as_millis()
            )))
        }
    }
}

fn unreachable_conn() -> Result<()> {
    Err(Error::Internal("connection kind mismatch".into()))
}

// ---------------------------------------------------------------------------
// Server side.

pub(crate) struct ServerHandler {
    conn: Arc<Conn>,
    trust: Arc<TrustSet>,
    from: String,
    /// The client's address, for `from=`.
    src: Source,
    slabs: RecvSlabs,
}

impl ServerHandler {
    /// Whether the client may authenticate as `user` with `key`; a refusal
    /// is logged with every reason (file, line and option).
    fn admit(
        &self,
        user: &str,
        key: &russh::keys::PublicKey,
        algorithm: &russh::keys::Algorithm,
    ) -> bool {
        let ok = self.admit_inner(user, key, algorithm);
        if !ok {
            self.conn
                .ev
                .push(crate::event::client_refused(user, &self.from, key));
        }
        ok
    }

    fn admit_inner(
        &self,
        user: &str,
        key: &russh::keys::PublicKey,
        algorithm: &russh::keys::Algorithm,
    ) -> bool {
        if let Err(e) = crate::options::validate_name(user) {
            tracing::warn!("refused client {user:?} from {}: {e}", self.from);
            return false;
        }
        if !signature_algorithm_allowed(algorithm) {
            tracing::warn!(
                "refused client {user:?} from {}: key {} offered with the signature algorithm {algorithm}, which streamkit refuses (SHA-1 ssh-rsa; use rsa-sha2-256 or rsa-sha2-512)",
                self.from,
                keys::public_line(key)
            );
            return false;
        }
        let claim = self
            .conn
            .peer
            .upgrade()
            .map_or(Ok(()), |p| p.name_claim(user, key));
        if let Err(why) = claim {
            tracing::warn!("refused client {user:?} from {}: {why}", self.from);
            return false;
        }
        match self.trust.authorize(key, &self.src, Some(user)) {
            Ok(grant) => {
                self.conn.set_remote_auth(RemoteAuth {
                    key: key.clone(),
                    grant,
                });
                true
            }
            Err(why) => {
                tracing::warn!("refused client {user:?} from {}: {why}", self.from);
                false
            }
        }
    }
}

impl Drop for ServerHandler {
    fn drop(&mut self) {
        self.conn.on_lost("SSH session ended");
    }
}

impl server::Handler for ServerHandler {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.admit(user, offer.public_key, offer.algorithm) {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.admit(user, key.public_key, key.algorithm) {
            self.conn.set_remote_name(user);
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<ServerMsg>,
        reply: server::ChannelOpenHandle,
        _s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        if !self.conn.ssh_channel_allowed() {
            reply
                .reject(russh::ChannelOpenFailure::ResourceShortage)
                .await;
            return Ok(());
        }
        reply.accept().await;
        let id = channel.id();
        let (r, w) = channel.split();
        drop(r);
        self.conn
            .add_slot(id, Arc::new(Tx::SshServer(w)), false, false);
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        self.conn.ssh_data(channel, 0, data, &mut self.slabs);
        Ok(())
    }

    async fn extended_data(
        &mut self,
        channel: ChannelId,
        code: u32,
        data: &[u8],
        _s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        dispatch_ext(&self.conn, channel, code, data, &mut self.slabs);
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        self.conn.ssh_channel_closed(channel);
        Ok(())
    }
    // SSH session requests streamkit never grants: each one that wants a
    // reply gets CHANNEL_FAILURE (russh's defaults send nothing, so a stock
    // client would wait for ever). channel_failure sends only when the
    // request asked for a reply.
    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        s.channel_failure(channel)
    }
}

fn server_config(s: &ConnSettings) -> server::Config {
    server::Config {
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(5),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![(*s.key).clone()],
        window_size: SSH_WINDOW,
        maximum_packet_size: SSH_MAX_PACKET,
        preferred: preferred(),
        inactivity_timeout: None,
        keepalive_interval: s.keepalive.map(|k| k.0),
        keepalive_max: s.keepalive.map(|k| k.1).unwrap_or(3),
        nodelay: true,
        ..Default::default()
    }
}

/// Serve one accepted socket. Returns when the SSH session ends. `slot` is
/// its MAX_STARTUPS admission, given back once the hello exchange is done.
/// Banner, key exchange, authentication and hello must all complete within
/// one HANDSHAKE_TIMEOUT from the accept, or the connection is dropped.
pub(crate) async fn serve<S>(
    peer: Arc<dyn ConnOwner>,
    settings: ConnSettings,
    from: String,
    src: Source,
    stream: S,
    slot: Slot,
    on_conn: Option<tokio::sync::oneshot::Sender<Arc<Conn>>>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let timeout = settings.handshake_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let conn = Conn::new(
        Arc::downgrade(&peer),
        settings.name.clone(),
        false,
        from.clone(),
        ConnKind::Ssh(SshState::default()),
        settings.limits,
    );
    drop(peer);
    if let Some(tx) = on_conn {
        let _ = tx.send(conn.clone());
    }
    let handler = ServerHandler {
        conn: conn.clone(),
        trust: settings.trust.clone(),
        from: from.clone(),
        src,
        slabs: RecvSlabs::new(settings.slabs.clone()),
    };
    let cfg = Arc::new(server_config(&settings));
    let nb = NbStream::<()>::new(stream, conn.kill.clone(), conn.io_done.clone());
    conn.set_write_gate(nb.gate());
    let running =
        match tokio::time::timeout_at(deadline, server::run_stream(cfg, nb, handler)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!("dropping connection from {from}: SSH handshake failed: {e}");
                conn.on_lost(&format!("SSH handshake failed: {e}"));
                return;
            }
            Err(_) => {
                tracing::warn!(
                "dropping connection from {from}: no SSH banner within {} ms (HANDSHAKE_TIMEOUT)",
                timeout.as_millis()
            );
                conn.on_lost("handshake timeout");
                return;
            }
        };
    if let ConnKind::Ssh(ssh) = &conn.kind {
        let _ = ssh.link.set(Box::new(ServerLink(running.handle())));
    }
    let c2 = conn.clone();
    let from2 = from.clone();
    let watchdog = tokio::spawn(async move {
        if tokio::time::timeout_at(deadline, c2.wait_hello())
            .await
            .is_err()
        {
            tracing::warn!(
                "dropping connection from {from2}: authentication and hello not completed within {} ms (HANDSHAKE_TIMEOUT)",
                timeout.as_millis()
            );
            c2.close("handshake timeout");
        }
        // Authenticated (or dropped): no longer counts against MAX_STARTUPS.
        drop(slot);
    });
    let r = running.await;
    watchdog.abort();
    if let Err(e) = r {
        tracing::debug!("session from {from} ended: {e:?}");
    }
    conn.on_lost("SSH session ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_algorithms_allowed_are_exactly_key_algorithms() {
        use russh::keys::{Algorithm, HashAlg};
        for a in KEY_ALGORITHMS {
            assert!(signature_algorithm_allowed(a), "{a:?}");
        }
        for a in [
            Algorithm::Rsa { hash: None },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            },
            Algorithm::Dsa,
        ] {
            assert_eq!(
                signature_algorithm_allowed(&a),
                KEY_ALGORITHMS.contains(&a),
                "{a:?}"
            );
        }
        assert!(!signature_algorithm_allowed(&Algorithm::Rsa { hash: None }));
        assert!(!signature_algorithm_allowed(&Algorithm::Dsa));
    }

    #[test]
    fn only_fast_key_exchanges_are_offered() {
        let p = preferred();
        let names: Vec<&str> = p.kex.iter().map(|n| n.as_ref()).collect();
        assert!(
            names.iter().all(|n| !n.starts_with("diffie-hellman")),
            "{names:?}"
        );
        assert_eq!(names[..2], ["mlkem768x25519-sha256", "curve25519-sha256"]);
    }

    #[test]
    fn cipher_order_follows_the_cpu() {
        use russh::cipher;
        assert_eq!(cipher_order(true)[0], cipher::AES_128_GCM);
        assert_eq!(cipher_order(false)[0], cipher::CHACHA20_POLY1305);
        for aes in [true, false] {
            let mut names: Vec<&str> = cipher_order(aes).iter().map(|n| n.as_ref()).collect();
            names.sort_unstable();
            // Only AEAD ciphers, the same three either way.
            assert_eq!(
                names,
                [
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                    "chacha20-poly1305@openssh.com"
                ]
            );
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            cpu_has_aes(),
            std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
        );
        assert_eq!(preferred().cipher[0], cipher_order(cpu_has_aes())[0]);
    }
}
