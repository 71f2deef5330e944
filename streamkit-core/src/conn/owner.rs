//! What a connection reports upward to the peer that owns it, as a trait, so
//! the connection layer (and the transports that build connections) do not
//! depend on the peer layer above them.

use super::Conn;
use crate::channel::Channel;
use crate::error::Result;
use russh::keys::{PrivateKey, PublicKey};
use std::sync::Arc;

/// Implemented by the peer (`peer::PeerInner`).
pub(crate) trait ConnOwner: Send + Sync {
    /// An established connection (after the hello exchange). `Err` refuses
    /// it (a remote claiming a name it may not use); the caller closes it.
    fn add_conn(&self, c: Arc<Conn>) -> Result<()>;
    /// The connection is gone.
    fn remove_conn(&self, c: &Conn);
    /// Whether a remote authenticated with `key` may use the peer name `name`
    /// (checked during authentication, before the connection is added).
    fn name_claim(&self, name: &str, key: &PublicKey) -> std::result::Result<(), String>;
    /// A channel the remote opened on the connection (not as a child of
    /// another channel): queue it for `accept`, or give it back with why not.
    fn accept_channel(&self, c: Channel) -> std::result::Result<(), (Channel, &'static str)>;
    /// Where the connection reports events (`event.rs`).
    fn event_queue(&self) -> Arc<crate::event::EventQueue>;
}

/// What `inproc://` needs from a bound or connecting peer.
pub(crate) trait InprocOwner: ConnOwner {
    /// Whether the peer has been shut down.
    fn is_shut(&self) -> bool;
    /// The peer's name and connection limits (fails once it is shut down).
    fn settings_for_inproc(&self) -> Result<(String, super::Limits)>;
    /// The peer's own key, shown to the other side as its identity.
    fn identity(&self) -> Result<Arc<PrivateKey>>;
}
