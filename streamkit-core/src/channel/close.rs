//! Half-close, close and shutdown.

use super::inner::ChanInner;
use super::state::{ChanState, Out};
use crate::error::{Error, Result};
use crate::proto::{close_code, Ctl};
use crate::sync::lock;
use std::sync::Arc;

impl ChanInner {
    /// Queue a control message after the data written so far.
    pub(super) fn queue_ctl(
        self: &Arc<Self>,
        c: Ctl,
        mark: impl FnOnce(&mut ChanState),
    ) -> Result<()> {
        let start = {
            let mut st = lock(&self.st);
            if let Some(e) = self.write_error(&st) {
                return Err(e);
            }
            mark(&mut st);
            self.enqueue(&mut st, Out::Ctl(c))
        };
        self.kick(start);
        Ok(())
    }

    pub(super) fn close(self: &Arc<Self>) -> Result<()> {
        let start;
        {
            let mut st = lock(&self.st);
            if st.user_closed {
                return Ok(());
            }
            st.user_closed = true;
            st.inb[0].clear();
            st.inb[1].clear();
            if st.close_sent {
                start = false;
            } else {
                st.close_sent = true;
                start = self.enqueue(
                    &mut st,
                    Out::Ctl(Ctl::Close {
                        code: close_code::NORMAL,
                        reason: String::new(),
                    }),
                );
            }
        }
        self.kick(start);
        self.wake_all();
        self.children.close(Error::closed("parent channel closed"));
        Ok(())
    }

    /// Close because the peer shuts down. A channel the application had not
    /// closed is closed with code SHUTDOWN, so its remote reads what was sent
    /// and then a closed error — never a clean end of stream that would make a
    /// cut-off transfer look complete.
    pub(crate) fn close_for_shutdown(self: &Arc<Self>) {
        let start = {
            let mut st = lock(&self.st);
            if st.user_closed {
                return;
            }
            st.user_closed = true;
            st.peer_shutdown = true;
            st.inb[0].clear();
            st.inb[1].clear();
            if st.close_sent {
                false
            } else {
                st.close_sent = true;
                // Code 3 makes the remote report a closed error after the data,
                // so a cut-off transfer never looks complete. A channel whose
                // application already half-closed it sent everything it meant
                // to (FIN is queued before this): a normal close, so the
                // remote reads a clean end of stream.
                let c = if st.fin_sent {
                    Ctl::Close {
                        code: close_code::NORMAL,
                        reason: String::new(),
                    }
                } else {
                    Ctl::Close {
                        code: close_code::SHUTDOWN,
                        reason: "peer shut down".into(),
                    }
                };
                self.enqueue(&mut st, Out::Ctl(c))
            }
        };
        self.kick(start);
        self.wake_all();
        self.children.close(Error::closed("peer is shut down"));
    }

    /// Wait until everything queued so far has been handed to the transport.
    pub(super) async fn flushed(&self) {
        loop {
            let n = self.wr.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let st = lock(&self.st);
                if !st.flushing || st.fatal.is_some() {
                    return;
                }
            }
            n.await;
        }
    }
}
