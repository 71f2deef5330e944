//! Tuning constants of the channel layer: chunk sizes, coalescing and
//! receive-window auto-tuning limits.

use std::time::Duration;

/// Largest chunk handed to the transport in one send.
pub(super) const MAX_CHUNK: usize = 64 * 1024;
/// Frames up to this size are copied into one buffer with their header.
pub(super) const SMALL_FRAME: usize = 16 * 1024;
/// Byte-stream writes up to this size are coalesced with neighbours.
pub(super) const COALESCE_PIECE: usize = 4 * 1024;
/// Most bytes coalesced into one transport send.
pub(super) const COALESCE_MAX: usize = 64 * 1024;
/// A flusher that finds less than this coalesced while the writer is still
/// adding to it gives the writer a moment to add more (see `flush_loop`).
pub(super) const FLUSH_WAIT_BELOW: usize = 32 * 1024;
/// At most this many such moments per send.
pub(super) const FLUSH_WAIT_CHECKS: usize = 64;
/// Window auto-tuning's "the reader waited for credit" rule grows a window
/// only up to this size: enough to hide a short link's scheduling latency
/// (measured: 256 KiB -> 4 MiB doubles loopback bulk on an idle machine),
/// while larger windows there only lengthen the sender's queues (16 MiB was
/// slower than 4). Long links grow further by the bandwidth-delay rule.
pub(super) const STARVED_GROWTH_MAX: usize = 4 << 20;
/// Window auto-tuning's "fast turnover" rule: a reader that consumes a
/// CREDIT's worth (a quarter window) within this time of the previous CREDIT
/// doubles its window...
pub(super) const FAST_TURNOVER: Duration = Duration::from_millis(1);
/// ...up to this size. Every CREDIT costs a wake-up on both sides and, for a
/// sender that runs out of credit, a wait; a stream that turns its window
/// over this fast (a stream of small frames) spent that on every 64 KiB with
/// the 256 KiB default, even with its reader behind (so neither rule above
/// grows it); a 1 MiB cap removes most of those waits (BENCHMARKS.md,
/// scenario 7).
pub(super) const TURNOVER_GROWTH_MAX: usize = 1 << 20;
