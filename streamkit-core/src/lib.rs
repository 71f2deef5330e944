//! # streamkit-core
//!
//! Secure, multiplexed, bidirectional channels between programs, over SSH.
//!
//! **Peers** bind and connect like ZeroMQ sockets (`tcp://`, `unix://`,
//! `inproc://`); every connection between peers is an SSH connection,
//! mutually authenticated with ordinary OpenSSH keys. **Channels** are
//! bidirectional streams tunnelled through those connections: each carries a
//! service name and headers, a byte stream, length-prefixed frames, error
//! frames, trailers and half-close, and can carry channels of its own.
//!
//! ## Organization
//! - [`Peer`] (`peer.rs`): options, bind/connect, accept/open, shutdown.
//! - [`Channel`] (`channel.rs`): I/O, frames, flow control, close.
//! - [`Event`] (`event.rs`): what happened to connections, bounded queue.
//! - `conn.rs`: one connection, channel routing and SSH channel reuse.
//! - `ssh.rs`: the russh transport; `inproc.rs`: the in-memory transport.
//! - `proto.rs`: the wire messages of docs/PROTOCOL.md (sans I/O).
//! - [`Error`] (`error.rs`), [`PeerOption`] (`options.rs`), [`Endpoint`].
//!
//! ```no_run
//! # async fn demo() -> streamkit_core::Result<()> {
//! use streamkit_core::{Peer, PeerOption};
//! let a = Peer::new();
//! let b = Peer::new();
//! a.set_option_str(PeerOption::Name, "a")?;
//! a.set_option_str(PeerOption::AuthorizedKeys, &b.public_key()?)?;
//! b.set_option_str(PeerOption::AuthorizedKeys, &a.public_key()?)?;
//! let ep = a.bind("tcp://127.0.0.1:0").await?;
//! b.connect(&ep).await?;
//! let ch = b.open("a", "echo", &["k=v".into()]).await?;
//! ch.write_frame(b"ping").await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations)]

mod authz;
mod channel;
mod conn;
mod endpoint;
mod error;
mod event;
mod identity;
mod inproc;
mod keys;
mod options;
mod peer;
pub mod proto;
mod readiness;
pub mod runtime;
mod slab;
mod ssh;
mod startups;
mod sync;
mod writer;

pub use channel::{Channel, ChannelMeta, ChannelStats};
pub use conn::ConnStats;
pub use endpoint::Endpoint;
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventKind, EVENT_QUEUE};
pub use keys::{generate_key, public_key_of};
pub use options::{PeerOption, DEFAULT_CHANNEL_WINDOW, DEFAULT_MAX_FRAME_SIZE};
pub use peer::Peer;
pub use startups::{MAX_STARTUPS, MAX_STARTUPS_PER_SOURCE};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The crate README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
