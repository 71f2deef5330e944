//! A tokio `AsyncRead + AsyncWrite` over a duplicated file descriptor, for
//! `Channel.join(sock)`.
//!
//! The caller's fd is `dup`ed (close-on-exec), so Python keeps its own socket
//! object and the core owns (and closes) the duplicate. For sockets the I/O uses
//! `MSG_DONTWAIT` so the shared file status flags are left alone (a blocking
//! Python socket stays blocking); other fds (pipes, ttys) are switched to
//! O_NONBLOCK for the duration and restored when the stream is dropped. Ending
//! the write side shuts the socket down for writing (`SHUT_WR`), so the other
//! end of the socket sees EOF even though Python still holds the original fd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub(crate) struct FdStream {
    fd: AsyncFd<OwnedFd>,
    is_socket: bool,
    /// Original flags to restore (non-socket fds only).
    restore_flags: Option<libc::c_int>,
}

impl FdStream {
    /// Duplicate `fd` and wrap the duplicate. Must run inside the runtime context.
    pub(crate) fn dup(fd: RawFd) -> io::Result<FdStream> {
        // SAFETY: F_DUPFD_CLOEXEC on a caller-supplied fd; failure is reported via errno.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if new < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `new` is a fresh fd that we own.
        let owned = unsafe { OwnedFd::from_raw_fd(new) };
        let mut ty: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid out-pointers.
        let is_socket = unsafe {
            libc::getsockopt(
                new,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                &mut ty as *mut _ as *mut libc::c_void,
                &mut len,
            )
        } == 0;
        if is_socket && ty != libc::SOCK_STREAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "join() needs a stream socket (SOCK_STREAM)",
            ));
        }
        let mut restore_flags = None;
        if !is_socket {
            // SAFETY: plain fcntl calls on an fd we own.
            let flags = unsafe { libc::fcntl(new, libc::F_GETFL) };
            if flags < 0 {
                return Err(io::Error::last_os_error());
            }
            if flags & libc::O_NONBLOCK == 0 {
                if unsafe { libc::fcntl(new, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                restore_flags = Some(flags);
            }
        }
        // SAFETY: `owned` is a valid open fd that the AsyncFd owns until dropped.
        let fd = unsafe { AsyncFd::register(owned) }?;
        Ok(FdStream {
            fd,
            is_socket,
            restore_flags,
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.get_ref().as_raw_fd()
    }
}

impl Drop for FdStream {
    fn drop(&mut self) {
        if let Some(flags) = self.restore_flags {
            // SAFETY: fd still open (OwnedFd dropped after this).
            unsafe { libc::fcntl(self.raw(), libc::F_SETFL, flags) };
        }
    }
}

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let fd = this.raw();
            let is_socket = this.is_socket;
            let res = guard.try_io(|_| {
                // SAFETY: `unfilled` is a valid writable buffer of that length.
                let n = unsafe {
                    if is_socket {
                        libc::recv(
                            fd,
                            unfilled.as_mut_ptr().cast(),
                            unfilled.len(),
                            libc::MSG_DONTWAIT,
                        )
                    } else {
                        libc::read(fd, unfilled.as_mut_ptr().cast(), unfilled.len())
                    }
                };
                cvt(n)
            });
            match res {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_write_ready(cx))?;
            let fd = this.raw();
            let is_socket = this.is_socket;
            let res = guard.try_io(|_| {
                // SAFETY: `data` is a valid readable buffer of that length.
                let n = unsafe {
                    if is_socket {
                        libc::send(
                            fd,
                            data.as_ptr().cast(),
                            data.len(),
                            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                        )
                    } else {
                        libc::write(fd, data.as_ptr().cast(), data.len())
                    }
                };
                cvt(n)
            });
            match res {
                Ok(Ok(n)) => return Poll::Ready(Ok(n)),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_socket {
            // SAFETY: shutdown on an fd we own; ENOTCONN (peer already gone) is fine.
            let rc = unsafe { libc::shutdown(self.raw(), libc::SHUT_WR) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ENOTCONN) {
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}
