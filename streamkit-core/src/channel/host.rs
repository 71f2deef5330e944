//! What a channel needs from the connection that carries it, as a trait, so
//! the channel layer does not depend on the connection layer above it.

use super::inner::ChanInner;
use super::Channel;
use crate::error::Result;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, as trait objects return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Implemented by the connection (`conn::Conn`).
pub(crate) trait ChanHost: Send + Sync {
    /// The connection's owning `Arc` of `c`, if it still holds `c`.
    fn chan_arc(&self, c: &ChanInner) -> Option<Arc<ChanInner>>;
    /// Both sides have closed `c`: forget it.
    fn channel_finished(&self, c: &ChanInner);
    /// A round trip measured on `c` (flow control's credit probes).
    fn note_rtt(&self, rtt: std::time::Duration);
    /// Open a child channel of channel `parent`.
    fn open_child<'a>(
        self: Arc<Self>,
        parent: u64,
        service: &'a str,
        headers: &'a [String],
    ) -> BoxFuture<'a, Result<Channel>>;
}
