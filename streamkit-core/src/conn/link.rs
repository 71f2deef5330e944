//! The SSH session under a connection, as a trait implemented by the SSH
//! transport (`ssh.rs`), so the connection layer does not depend on it.

use crate::channel::{BoxFuture, Tx};
use russh::ChannelId;

/// One SSH session, client or server side.
pub(crate) trait SshLink: Send + Sync {
    /// Open a new SSH session channel; returns its id and write half.
    fn open_session(&self) -> BoxFuture<'_, Result<(ChannelId, Tx), russh::Error>>;
    /// Send SSH_MSG_DISCONNECT with `reason` (BY_APPLICATION).
    fn disconnect(&self, reason: String) -> BoxFuture<'static, ()>;
}
