//! Level-triggered readiness descriptors for event loops (poll, epoll,
//! selectors, libuv), like ZeroMQ's ZMQ_FD or nng's NNG_OPT_RECVFD but
//! level-triggered: the descriptor is readable exactly while the condition
//! holds.
//!
//! The descriptor is the read end of a socketpair that holds one byte while
//! ready and none otherwise. Its owner (a channel, or a peer's accept and
//! event queues) calls [`Readiness::set`] under the lock that guards the
//! condition, so the byte always matches the state it was computed from.
//! Nothing is allocated and no syscall is made until an application asks
//! for a descriptor.

use crate::sync::lock;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

/// One readiness descriptor, fed by up to eight sources (bits).
#[derive(Debug)]
pub(crate) struct Readiness {
    rx: UnixStream,
    tx: UnixStream,
    /// Bit per source that is ready; the byte is present iff non-zero.
    on: Mutex<u8>,
}

impl Readiness {
    pub(crate) fn new() -> std::io::Result<Readiness> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(Readiness {
            rx,
            tx,
            on: Mutex::new(0),
        })
    }

    /// The descriptor to wait on (readable while ready). Owned by this
    /// object: callers must not close it.
    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Source `src` (0..8) is ready or not.
    pub(crate) fn set(&self, src: u8, ready: bool) {
        let mut on = lock(&self.on);
        let before = *on != 0;
        if ready {
            *on |= 1 << src;
        } else {
            *on &= !(1 << src);
        }
        let after = *on != 0;
        if before == after {
            return;
        }
        if after {
            // One byte into an empty socket buffer cannot block.
            let _ = (&self.tx).write(&[1]);
        } else {
            let mut b = [0u8; 16];
            loop {
                match (&self.rx).read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break, // WouldBlock: drained
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn readable(r: &Readiness) -> bool {
        let mut p = libc::pollfd {
            fd: r.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLIN != 0
    }

    #[test]
    fn readable_while_any_source_is_ready() {
        let r = Readiness::new().unwrap();
        assert!(!readable(&r));
        r.set(0, true);
        assert!(readable(&r));
        r.set(0, true); // idempotent: still one byte
        r.set(1, true);
        r.set(0, false);
        assert!(readable(&r), "source 1 is still ready");
        r.set(1, false);
        assert!(!readable(&r));
        r.set(1, false);
        assert!(!readable(&r));
        r.set(2, true);
        assert!(readable(&r));
    }
}
