//! Recycled receive buffers for a peer's SSH connections.
//!
//! russh hands each decrypted channel-data packet to the handler as a
//! borrowed slice, so the bytes must be copied before they wait in a
//! channel's read buffer. Copying every packet into its own allocation
//! made the receiving side churn through the allocator: a packet is
//! allocated on a runtime worker and freed, once read, on the reader's
//! thread; glibc then trims the worker's arena (`madvise`, with a TLB
//! shoot-down on every CPU) and the next packets fault fresh pages in.
//! Measured across two processes (1 GiB, 64 KiB writes), that was a fault
//! for nearly every other page received and cost about a third of the
//! throughput.
//!
//! Instead, large packets are copied into 128 KiB slabs that are used
//! again once every packet carved from them has been read. Each connection
//! fills one slab at a time; full slabs go to its peer's [`SlabPool`], which
//! keeps the [`POOL`] most recent ones (4 MiB) for any of the peer's
//! connections to take back once they have been read. A slab whose packets
//! stay unread longer than that is let go (it is freed when its last packet
//! is read) and a new one is allocated. Packets under 16 KiB are copied as
//! before, so that a little unread data never keeps a whole slab alive
//! (see [`SMALL`] for the bound), and so is a packet larger than a slab,
//! which only a misbehaving remote sends.

use crate::sync::lock;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Bytes per slab: room for at least one largest SSH packet (64 KiB).
pub(crate) const SLAB: usize = 128 * 1024;
/// Packets shorter than this are copied into their own allocation. It
/// bounds what unread data can keep allocated: a slab stays alive while any
/// packet in it is unread, so at worst (each unread packet the only one left
/// in its slab) unread bytes keep SLAB / SMALL = 8 times their size in
/// slabs. Bulk packets are 64 KiB and are not affected.
pub(crate) const SMALL: usize = 16 * 1024;
/// Slabs a peer keeps for reuse (besides the one each connection fills).
pub(crate) const POOL: usize = 32;

/// A peer's slabs, shared by its SSH connections: oldest first, each
/// possibly still holding unread packets.
#[derive(Default)]
pub(crate) struct SlabPool {
    slabs: Mutex<VecDeque<BytesMut>>,
}

impl SlabPool {
    fn put(&self, slab: BytesMut) {
        let mut q = lock(&self.slabs);
        q.push_back(slab);
        if q.len() > POOL {
            // The oldest, possibly still unread: stop waiting for it.
            q.pop_front();
        }
    }

    /// A slab whose packets have all been read, emptied.
    fn take(&self) -> Option<BytesMut> {
        let mut q = lock(&self.slabs);
        let i = q.iter_mut().position(|s| s.try_reclaim(SLAB))?;
        q.remove(i)
    }

    /// Slabs held: for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.slabs).len()
    }
}

/// One connection's receive side (owned by its SSH handler).
pub(crate) struct RecvSlabs {
    /// The slab being filled (its free tail), once a large packet came.
    cur: Option<BytesMut>,
    pool: Arc<SlabPool>,
}

impl RecvSlabs {
    pub(crate) fn new(pool: Arc<SlabPool>) -> RecvSlabs {
        RecvSlabs { cur: None, pool }
    }

    /// A copy of `data` that owns (a share of) its memory.
    pub(crate) fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.len() < SMALL || data.len() > SLAB {
            // Larger than any packet we accept (SSH_MAX_PACKET) would be a
            // misbehaving remote: copied alone, never pooled.
            return Bytes::copy_from_slice(data);
        }
        let fits = match &mut self.cur {
            Some(c) => c.capacity() >= data.len() || c.try_reclaim(SLAB),
            None => false,
        };
        if !fits {
            let next = self
                .pool
                .take()
                .unwrap_or_else(|| BytesMut::with_capacity(SLAB));
            if let Some(full) = self.cur.replace(next) {
                self.pool.put(full);
            }
        }
        let cur = self
            .cur
            .get_or_insert_with(|| BytesMut::with_capacity(SLAB));
        cur.extend_from_slice(data);
        cur.split().freeze()
    }
}

impl Drop for RecvSlabs {
    fn drop(&mut self) {
        if let Some(c) = self.cur.take() {
            self.pool.put(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn slabs() -> (RecvSlabs, Arc<SlabPool>) {
        let pool = Arc::new(SlabPool::default());
        (RecvSlabs::new(pool.clone()), pool)
    }

    #[test]
    fn copies_are_exact_and_independent() {
        let (mut s, _) = slabs();
        let mut kept = Vec::new();
        for i in 0..200u8 {
            let p = packet(
                if i % 3 == 0 {
                    100
                } else {
                    32 * 1024 + i as usize
                },
                i,
            );
            let b = s.copy(&p);
            assert_eq!(&b[..], &p[..]);
            kept.push((b, p));
        }
        // Every copy still holds its own bytes after later packets were copied.
        for (b, p) in &kept {
            assert_eq!(&b[..], &p[..]);
        }
    }

    #[test]
    fn a_slab_is_used_again_once_its_packets_are_read() {
        let (mut s, pool) = slabs();
        let p = packet(60 * 1024, 7);
        let first = s.copy(&p);
        let slab_start = first.as_ptr();
        drop(first);
        // Packets read as they arrive: the same memory comes back every time.
        for _ in 0..100 {
            let b = s.copy(&p);
            assert_eq!(&b[..], &p[..]);
            let off = (b.as_ptr() as usize).checked_sub(slab_start as usize);
            assert!(
                off.is_some_and(|o| o < SLAB),
                "packet outside the first slab: a new slab was allocated"
            );
        }
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn unread_packets_bound_the_slabs_held() {
        let (mut s, pool) = slabs();
        let p = packet(64 * 1024, 3);
        // A reader that never reads: slabs are let go after POOL, not hoarded.
        let unread: Vec<Bytes> = (0..3 * POOL).map(|_| s.copy(&p)).collect();
        assert_eq!(pool.len(), POOL);
        for b in &unread {
            assert_eq!(&b[..], &p[..]);
        }
        // Once read, the pooled slabs are used again: packets received as
        // they are read land where unread ones were.
        let old: std::collections::HashSet<usize> =
            unread.iter().map(|b| b.as_ptr() as usize).collect();
        drop(unread);
        for i in 0..2 * POOL {
            let b = s.copy(&p);
            assert!(
                old.contains(&(b.as_ptr() as usize)),
                "packet {i} is in a new slab"
            );
        }
        assert!(pool.len() <= POOL);
    }

    #[test]
    fn connections_share_the_peers_pool() {
        let (mut a, pool) = slabs();
        let p = packet(40 * 1024, 9);
        for _ in 0..10 {
            drop(a.copy(&p));
        }
        drop(a); // its slab goes to the pool
        assert_eq!(pool.len(), 1);
        let mut b = RecvSlabs::new(pool.clone());
        drop(b.copy(&p));
        assert_eq!(
            pool.len(),
            0,
            "the second connection took the first one's slab"
        );
    }

    #[test]
    fn small_packets_do_not_pin_slabs() {
        let (mut s, _) = slabs();
        let small = s.copy(b"tiny");
        assert_eq!(&small[..], b"tiny");
        assert!(s.cur.is_none());
        let below = packet(SMALL - 1, 2);
        assert_eq!(&s.copy(&below)[..], &below[..]);
        assert!(s.cur.is_none(), "a packet under SMALL is copied alone");
        let big = packet(SLAB + 5, 1);
        assert_eq!(&s.copy(&big)[..], &big[..]);
        assert!(s.cur.is_none(), "an oversized packet is copied alone");
        let at = packet(SMALL, 3);
        assert_eq!(&s.copy(&at)[..], &at[..]);
        assert!(s.cur.is_some(), "a packet of SMALL bytes goes into a slab");
    }
}
