//! The error type shared by every streamkit operation.
//!
//! Each [`Error`] variant corresponds to exactly one C result code
//! (`SK_ERR_*`), one Python exception class and one Go sentinel error, so the
//! bindings never have to guess how to map a failure.

use std::io;

/// The kind of an [`Error`], without its message. Maps one-to-one onto the C
/// `sk_result` codes (`SK_ERR_INVALID` ... `SK_ERR_INTERNAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A malformed argument: endpoint, key, option value, handle.
    Invalid,
    /// The peer or channel is closed (or was shut down while waiting).
    Closed,
    /// A deadline passed before the operation completed.
    Timeout,
    /// No connected peer matches the request.
    NoPeer,
    /// An operating-system I/O error (socket, file).
    Io,
    /// Authentication failed: an untrusted key on either side.
    Auth,
    /// The remote side broke the streamkit protocol (bad header, oversized frame, ...).
    Protocol,
    /// A clean end of stream.
    Eof,
    /// A bug in streamkit (a panic caught at a boundary, a broken invariant).
    Internal,
}

/// Every failure streamkit reports: a kind plus a message meant for a human.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// See [`ErrorKind::Invalid`].
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// See [`ErrorKind::Closed`].
    #[error("closed: {0}")]
    Closed(String),
    /// See [`ErrorKind::Timeout`].
    #[error("timed out: {0}")]
    Timeout(String),
    /// See [`ErrorKind::NoPeer`].
    #[error("no peer: {0}")]
    NoPeer(String),
    /// See [`ErrorKind::Io`].
    #[error("I/O error: {0}")]
    Io(String),
    /// See [`ErrorKind::Auth`].
    #[error("authentication failed: {0}")]
    Auth(String),
    /// See [`ErrorKind::Protocol`].
    #[error("protocol error: {0}")]
    Protocol(String),
    /// See [`ErrorKind::Eof`].
    #[error("end of stream")]
    Eof,
    /// See [`ErrorKind::Internal`].
    #[error("internal error: {0}")]
    Internal(String),
}

/// `Result` with streamkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Closed(_) => ErrorKind::Closed,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::NoPeer(_) => ErrorKind::NoPeer,
            Error::Io(_) => ErrorKind::Io,
            Error::Auth(_) => ErrorKind::Auth,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Eof => ErrorKind::Eof,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        match self {
            Error::Invalid(m)
            | Error::Closed(m)
            | Error::Timeout(m)
            | Error::NoPeer(m)
            | Error::Io(m)
            | Error::Auth(m)
            | Error::Protocol(m)
            | Error::Internal(m) => m,
            Error::Eof => "end of stream",
        }
    }

    pub(crate) fn invalid(m: impl Into<String>) -> Self {
        Error::Invalid(m.into())
    }
    pub(crate) fn closed(m: impl Into<String>) -> Self {
        Error::Closed(m.into())
    }
    pub(crate) fn protocol(m: impl Into<String>) -> Self {
        Error::Protocol(m.into())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut => Error::Timeout(e.to_string()),
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected => Error::Closed(e.to_string()),
            io::ErrorKind::InvalidInput => Error::Invalid(e.to_string()),
            _ => Error::Io(e.to_string()),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::Invalid => io::ErrorKind::InvalidInput,
            ErrorKind::Closed => io::ErrorKind::BrokenPipe,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::NoPeer => io::ErrorKind::NotConnected,
            ErrorKind::Io => io::ErrorKind::Other,
            ErrorKind::Auth => io::ErrorKind::PermissionDenied,
            ErrorKind::Protocol => io::ErrorKind::InvalidData,
            ErrorKind::Eof => io::ErrorKind::UnexpectedEof,
            ErrorKind::Internal => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
