//! How a channel's outgoing side reaches the other end: an SSH channel's
//! write half, or (in-process) the other channel itself.

use super::inner::ChanInner;
use crate::error::{Error, Result};
use crate::proto::{Ctl, EXT_CONTROL, EXT_ERRORS};
use crate::sync::lock;
use bytes::Bytes;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

/// How a channel's outgoing side reaches the other end.
pub(crate) enum Tx {
    /// An SSH channel on the connecting (client) side.
    SshClient(russh::ChannelWriteHalf<russh::client::Msg>),
    /// An SSH channel on the bound (server) side.
    SshServer(russh::ChannelWriteHalf<russh::server::Msg>),
    /// The other end of an in-process channel.
    Inproc(Mutex<Weak<ChanInner>>),
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tx::SshClient(_) => "Tx::SshClient",
            Tx::SshServer(_) => "Tx::SshServer",
            Tx::Inproc(_) => "Tx::Inproc",
        })
    }
}

fn lost(_: russh::Error) -> Error {
    Error::closed("the connection carrying this channel is gone")
}

impl Tx {
    pub(super) fn inproc_peer(&self) -> Option<Arc<ChanInner>> {
        match self {
            Tx::Inproc(w) => lock(w).upgrade(),
            _ => None,
        }
    }

    pub(super) async fn data(&self, stream: u8, b: Bytes) -> Result<()> {
        match self {
            Tx::SshClient(w) if stream == 0 => w.data_bytes(b).await.map_err(lost),
            Tx::SshClient(w) => w.extended_data_bytes(EXT_ERRORS, b).await.map_err(lost),
            Tx::SshServer(w) if stream == 0 => w.data_bytes(b).await.map_err(lost),
            Tx::SshServer(w) => w.extended_data_bytes(EXT_ERRORS, b).await.map_err(lost),
            Tx::Inproc(_) => match self.inproc_peer() {
                Some(p) => {
                    p.on_data(stream, b);
                    Ok(())
                }
                None => Err(Error::closed(
                    "the other end of the in-process channel is gone",
                )),
            },
        }
    }

    pub(crate) async fn ctl(&self, c: Ctl) -> Result<()> {
        match self {
            Tx::SshClient(w) => w
                .extended_data_bytes(EXT_CONTROL, c.encode())
                .await
                .map_err(lost),
            Tx::SshServer(w) => w
                .extended_data_bytes(EXT_CONTROL, c.encode())
                .await
                .map_err(lost),
            Tx::Inproc(_) => {
                if let Some(p) = self.inproc_peer() {
                    p.on_ctl(c);
                }
                Ok(())
            }
        }
    }

    /// Send a control message without waiting: inline for inproc, on a task for
    /// SSH (used from russh handler callbacks, which must never wait on the
    /// session they run in).
    pub(crate) fn ctl_nowait(self: &Arc<Self>, rt: &tokio::runtime::Handle, c: Ctl) {
        match &**self {
            Tx::Inproc(_) => {
                if let Some(p) = self.inproc_peer() {
                    p.on_ctl(c);
                }
            }
            _ => {
                let tx = self.clone();
                rt.spawn(async move {
                    let _ = tx.ctl(c).await;
                });
            }
        }
    }

    /// Close the underlying SSH channel (used when a pooled channel is retired
    /// or its control stream is corrupt).
    pub(crate) async fn close_ssh(&self) {
        let _ = match self {
            Tx::SshClient(w) => w.close().await,
            Tx::SshServer(w) => w.close().await,
            Tx::Inproc(_) => Ok(()),
        };
    }
}
