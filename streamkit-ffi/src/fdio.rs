//! `sk_channel_join_fd`: turn a C file descriptor into a tokio stream.
//!
//! TCP and Unix stream sockets become tokio's `TcpStream`/`UnixStream`.
//! Other pollable descriptors (pipes, terminals, socketpairs of other
//! families) are driven through `AsyncFd` in non-blocking mode; regular
//! files (which epoll refuses) go through `tokio::fs::File`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use streamkit_core::{Channel, Error, Result};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::invalid;

/// Take ownership of `fd` after checking that it is an open descriptor.
///
/// # Safety
/// The caller transfers ownership of `fd`: nothing else may close it.
pub(crate) unsafe fn take_fd(fd: RawFd) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(invalid(format!("fd = {fd} is not a file descriptor")));
    }
    // SAFETY: F_GETFD only queries the descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(invalid(format!("fd = {fd} is not an open file descriptor")));
    }
    // SAFETY: fd is open and ownership was transferred to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

enum Family {
    Tcp,
    Unix,
    OtherStreamSocket,
    RegularFile,
    NotSocket,
}

fn family(fd: &OwnedFd) -> Result<Family> {
    let raw = fd.as_raw_fd();
    // SAFETY: fstat writes into a zeroed stat struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(raw, &mut st) } < 0 {
        return Err(Error::Io(format!(
            "fstat(fd): {}",
            io::Error::last_os_error()
        )));
    }
    if st.st_mode & libc::S_IFMT == libc::S_IFREG {
        return Ok(Family::RegularFile);
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Ok(Family::NotSocket);
    }
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most len bytes into ty.
    if unsafe {
        libc::getsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    } < 0
    {
        return Err(Error::Io(format!(
            "getsockopt(fd, SO_TYPE): {}",
            io::Error::last_os_error()
        )));
    }
    if ty != libc::SOCK_STREAM {
        return Err(invalid(
            "fd is a socket but not a stream socket (datagram sockets cannot be joined)",
        ));
    }
    // SAFETY: getsockname writes at most len bytes into a sockaddr_storage.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut alen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    if unsafe {
        libc::getsockname(
            raw,
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut alen,
        )
    } < 0
    {
        return Err(Error::Io(format!(
            "getsockname(fd): {}",
            io::Error::last_os_error()
        )));
    }
    Ok(match addr.ss_family as libc::c_int {
        libc::AF_INET | libc::AF_INET6 => Family::Tcp,
        libc::AF_UNIX => Family::Unix,
        _ => Family::OtherStreamSocket,
    })
}

fn set_nonblocking(fd: &OwnedFd) -> Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: plain fcntl flag manipulation on an owned descriptor.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(Error::Io(format!(
            "cannot make fd non-blocking: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// A descriptor as a tokio stream, by kind.
pub(crate) enum FdIo {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
    Raw(RawIo),
    File(tokio::fs::File),
}

/// Wrap `fd` for async I/O (must run inside the runtime). Regular files are
/// accepted only when `files` is set (a connection needs a two-way stream).
pub(crate) fn stream(fd: OwnedFd, files: bool) -> Result<FdIo> {
    Ok(match family(&fd)? {
        Family::Tcp => {
            let s = std::net::TcpStream::from(fd);
            s.set_nonblocking(true).map_err(Error::from)?;
            let _ = s.set_nodelay(true);
            FdIo::Tcp(tokio::net::TcpStream::from_std(s).map_err(Error::from)?)
        }
        Family::Unix => {
            let s = std::os::unix::net::UnixStream::from(fd);
            s.set_nonblocking(true).map_err(Error::from)?;
            FdIo::Unix(tokio::net::UnixStream::from_std(s).map_err(Error::from)?)
        }
        Family::OtherStreamSocket | Family::NotSocket => {
            set_nonblocking(&fd)?;
            // SAFETY: the OwnedFd is moved into the AsyncFd, so the
            // descriptor stays open and unchanged for its whole lifetime.
            match unsafe { AsyncFd::register(fd) } {
                Ok(afd) => FdIo::Raw(RawIo(afd)),
                Err(e) => return Err(Error::Io(format!("fd cannot be polled: {e}"))),
            }
        }
        // epoll refuses regular files: use tokio's (thread-pool) file I/O.
        Family::RegularFile if files => {
            FdIo::File(tokio::fs::File::from_std(std::fs::File::from(fd)))
        }
        Family::RegularFile => {
            return Err(invalid(
                "fd is a regular file; a connection needs a socket or a pipe-like stream",
            ))
        }
    })
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            FdIo::Tcp($s) => $e,
            FdIo::Unix($s) => $e,
            FdIo::Raw($s) => $e,
            FdIo::File($s) => $e,
        }
    };
}

impl AsyncRead for FdIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for FdIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, data))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Splice `ch` with `fd` until both directions end (must run inside the runtime).
pub(crate) async fn join(ch: &Channel, fd: OwnedFd) -> Result<()> {
    splice(ch, stream(fd, true)?).await
}

/// Copy fd -> channel and channel -> fd until both directions end, then
/// close the channel.
///
/// Unlike `Channel::join` (which waits for both directions even after one
/// failed, so a closed channel would wait forever for the fd to send
/// something), the first error ends both directions at once.
async fn splice<S: AsyncRead + AsyncWrite>(ch: &Channel, io: S) -> Result<()> {
    let (mut r, mut w) = tokio::io::split(io);
    let fd_err = |what: &str, e: io::Error| Error::Io(format!("{what} fd: {e}"));
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).await.map_err(|e| fd_err("reading", e))?;
            if n == 0 {
                return ch.close_write().await;
            }
            ch.write(&buf[..n]).await?;
        }
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = ch.read(&mut buf).await?;
            if n == 0 {
                let _ = w.shutdown().await;
                return Ok(());
            }
            w.write_all(&buf[..n])
                .await
                .map_err(|e| fd_err("writing", e))?;
        }
    };
    // Once the channel is closed in both directions (by the remote side, or
    // by sk_channel_close/sk_channel_free in another thread), nothing read
    // from the fd could be sent any more: stop waiting for it.
    let up = async {
        tokio::select! {
            r = up => r,
            () = closed(ch) => Err(Error::Closed(
                "the channel was closed while join_fd was waiting for data from the fd".into(),
            )),
        }
    };
    let res = tokio::try_join!(up, down).map(|_| ());
    let _ = ch.close().await;
    res
}

/// Resolves once the channel is closed in both directions.
async fn closed(ch: &Channel) {
    while !ch.is_closed() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A non-blocking descriptor driven by the reactor.
pub(crate) struct RawIo(AsyncFd<OwnedFd>);

impl AsyncRead for RawIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let res = guard.try_io(|inner| {
                // SAFETY: reading into an initialized buffer of the given length.
                let n = unsafe {
                    libc::read(
                        inner.as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A hung-up terminal or pipe reads as end of stream.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for RawIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            let res = guard.try_io(|inner| {
                // SAFETY: writing from a valid slice.
                let n = unsafe { libc::write(inner.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A socket gets a half-close; other descriptors have no such notion.
        // SAFETY: shutdown on an owned descriptor; ENOTSOCK is ignored.
        unsafe { libc::shutdown(self.0.as_raw_fd(), libc::SHUT_WR) };
        Poll::Ready(Ok(()))
    }
}
