//! The handle table: the one place where C handles and Rust objects meet.
//!
//! C never receives a pointer to a Rust object. An `sk_peer *` or
//! `sk_channel *` is an integer id dressed as a pointer:
//!
//! ```text
//!   bits 63..32  generation of the slot when the handle was issued
//!   bits 31..8   slot index + 1
//!   bits  7..0   type tag (0xA5 = peer, 0xC3 = channel)
//! ```
//!
//! The pointer is never dereferenced. Looking a handle up checks the tag, the
//! slot and the generation, so a handle that was freed (the slot's generation
//! has moved on), freed twice, has the wrong type, or was never issued is an
//! `SK_ERR_INVALID` error instead of undefined behaviour. Lookups clone the
//! core object (a cheap handle) and release the table lock before any
//! blocking work, so a call blocked on one handle never blocks others, and
//! freeing a handle while another thread uses it is safe. Each slot has its
//! own lock; the global lock guards only slot allocation (insert/remove).

use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use streamkit_core::{Channel, Peer, Result};

use crate::error::invalid;

// Handles are stored in pointer-sized values; the layout above needs 64 bits.
const _: () = assert!(usize::BITS == 64, "streamkit-ffi requires a 64-bit target");

/// What a handle refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Peer,
    Channel,
}

impl Kind {
    fn tag(self) -> u64 {
        match self {
            Kind::Peer => 0xA5,
            Kind::Channel => 0xC3,
        }
    }
    fn c_name(self) -> &'static str {
        match self {
            Kind::Peer => "sk_peer",
            Kind::Channel => "sk_channel",
        }
    }
}

#[derive(Debug)]
enum Entry {
    Peer(Peer),
    Channel(Channel),
}

impl Entry {
    fn kind(&self) -> Kind {
        match self {
            Entry::Peer(_) => Kind::Peer,
            Entry::Channel(_) => Kind::Channel,
        }
    }
}

/// One handle slot, with its own lock: looking up a handle locks only its
/// slot, so calls on different handles (a reader and a writer thread, say)
/// never contend, and the data-path calls never touch a global lock. Each
/// slot has its own cache lines, so neighbouring handles used by different
/// threads do not slow each other down either (false sharing).
///
/// `generation` changes only while `entry` is locked, so a locked reader
/// sees it consistent with the entry; the per-thread channel caches read it
/// without the lock (see `with_channel`).
#[derive(Debug)]
#[repr(align(128))]
struct Slot {
    entry: Mutex<Option<Entry>>,
    generation: AtomicU32,
}

/// Slots live in chunks that are allocated once and never freed or moved,
/// so a lookup needs no lock to find its slot.
const CHUNK: usize = 1024;

/// Most handles alive at once (24 bits of slot index).
const MAX_SLOTS: usize = (1 << 24) - 1;
const N_CHUNKS: usize = MAX_SLOTS / CHUNK + 1;

static CHUNKS: [AtomicPtr<Slot>; N_CHUNKS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; N_CHUNKS];

/// Slot allocation (insert and remove only).
#[derive(Debug)]
struct Alloc {
    /// Slots created so far (indexes 0..len exist).
    len: usize,
    free: Vec<usize>,
    live: usize,
}

static ALLOC: Mutex<Alloc> = Mutex::new(Alloc {
    len: 0,
    free: Vec::new(),
    live: 0,
});

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave the table inconsistent
    // (every mutation is a single assignment), so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The slot at `index`, if it was ever created.
fn slot(index: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(index / CHUNK)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a non-null chunk pointer is a leaked [Slot; CHUNK] that is
    // never freed or moved (see `new_slot`).
    Some(unsafe { &*chunk.add(index % CHUNK) })
}

/// Create the slot `a.len` (allocating its chunk if needed); returns its index.
fn new_slot(a: &mut Alloc) -> usize {
    let index = a.len;
    if index.is_multiple_of(CHUNK) {
        let chunk: Box<[Slot]> = (0..CHUNK)
            .map(|_| Slot {
                entry: Mutex::new(None),
                generation: AtomicU32::new(1),
            })
            .collect();
        // Leaked on purpose: slots must stay valid for lock-free lookups.
        let p = Box::into_raw(chunk).cast::<Slot>();
        CHUNKS[index / CHUNK].store(p, Ordering::Release);
    }
    a.len += 1;
    index
}

fn encode(kind: Kind, index: usize, generation: u32) -> usize {
    (((generation as u64) << 32) | (((index as u64) + 1) << 8) | kind.tag()) as usize
}

fn decode(handle: usize, kind: Kind) -> Option<(usize, u32)> {
    let h = handle as u64;
    if h & 0xFF != kind.tag() {
        return None;
    }
    let index = ((h >> 8) & 0xFF_FFFF) as usize;
    let index = index.checked_sub(1)?;
    Some((index, (h >> 32) as u32))
}

fn insert(entry: Entry) -> Result<usize> {
    let kind = entry.kind();
    let mut a = lock(&ALLOC);
    let index = match a.free.pop() {
        Some(i) => i,
        None => {
            if a.len >= MAX_SLOTS {
                return Err(invalid(format!(
                    "too many live streamkit handles ({MAX_SLOTS}); free some first"
                )));
            }
            new_slot(&mut a)
        }
    };
    let slot = slot(index)
        .ok_or_else(|| streamkit_core::Error::Internal("handle slot not allocated".into()))?;
    a.live += 1;
    *lock(&slot.entry) = Some(entry);
    Ok(encode(kind, index, slot.generation.load(Ordering::Acquire)))
}

fn bad_handle(kind: Kind, arg: &str, handle: usize) -> streamkit_core::Error {
    if handle == 0 {
        invalid(format!("{arg} is NULL"))
    } else {
        invalid(format!(
            "{arg} is not a live {} handle (already freed, or never returned by streamkit)",
            kind.c_name()
        ))
    }
}

fn get(kind: Kind, arg: &str, handle: usize) -> Result<Entry> {
    let found = decode(handle, kind).and_then(|(index, generation)| {
        let slot = slot(index)?;
        let entry = lock(&slot.entry);
        if slot.generation.load(Ordering::Acquire) != generation {
            return None;
        }
        match entry.as_ref()? {
            Entry::Peer(p) => Some(Entry::Peer(p.clone())),
            Entry::Channel(c) => Some(Entry::Channel(c.clone())),
        }
    });
    found.ok_or_else(|| bad_handle(kind, arg, handle))
}

/// Remove a handle from the table; its generation moves on so every copy of
/// the handle becomes invalid. Returns the object, or None if the handle was
/// not live.
fn remove(kind: Kind, handle: usize) -> Option<Entry> {
    let (index, generation) = decode(handle, kind)?;
    let entry = {
        let slot = slot(index)?;
        let mut st = lock(&slot.entry);
        if slot.generation.load(Ordering::Acquire) != generation
            || st.as_ref().map(Entry::kind) != Some(kind)
        {
            return None;
        }
        // Skip 0 on wrap-around so a slot's generation is never 0.
        slot.generation
            .store(generation.checked_add(1).unwrap_or(1), Ordering::Release);
        st.take()
    };
    // Only now may the slot be reused.
    let mut a = lock(&ALLOC);
    a.free.push(index);
    a.live -= 1;
    entry
}

/// Register a peer; returns its handle.
pub(crate) fn insert_peer(p: Peer) -> Result<usize> {
    insert(Entry::Peer(p))
}

/// Register a channel; returns its handle.
pub(crate) fn insert_channel(c: Channel) -> Result<usize> {
    insert(Entry::Channel(c))
}

/// The peer behind a handle (`arg` names the C argument in errors).
pub(crate) fn peer(arg: &str, handle: usize) -> Result<Peer> {
    match get(Kind::Peer, arg, handle)? {
        Entry::Peer(p) => Ok(p),
        Entry::Channel(_) => Err(bad_handle(Kind::Peer, arg, handle)),
    }
}

/// The channel behind a handle (`arg` names the C argument in errors).
pub(crate) fn channel(arg: &str, handle: usize) -> Result<Channel> {
    match get(Kind::Channel, arg, handle)? {
        Entry::Channel(c) => Ok(c),
        Entry::Peer(_) => Err(bad_handle(Kind::Channel, arg, handle)),
    }
}

thread_local! {
    /// The last channel handle this thread used, and its object.
    static CHANNEL_CACHE: RefCell<Option<(usize, Channel)>> = const { RefCell::new(None) };
}

/// Run `f` with the channel behind a handle, for the data-path calls.
///
/// Each thread remembers the last channel handle it used: while that
/// handle's slot still has the handle's generation (one atomic load), the
/// remembered object is used as is: no lock, no reference count traffic.
/// Freeing the handle moves the generation on, so a freed handle is never
/// served from a cache (a call that had already started when another thread
/// freed the handle finishes on the channel it had, as with the table).
/// The remembered object only keeps the closed channel's memory until the
/// thread uses another channel or exits; `sk_channel_free` forgets it on
/// the freeing thread.
pub(crate) fn with_channel<T>(
    arg: &str,
    handle: usize,
    f: impl FnOnce(&Channel) -> Result<T>,
) -> Result<T> {
    let Some((index, generation)) = decode(handle, Kind::Channel) else {
        return Err(bad_handle(Kind::Channel, arg, handle));
    };
    let current = slot(index).is_some_and(|s| s.generation.load(Ordering::Acquire) == generation);
    let mut f = Some(f);
    if current {
        let hit = CHANNEL_CACHE.try_with(|c| match c.try_borrow() {
            Ok(c) => match c.as_ref() {
                Some((h, ch)) if *h == handle => f.take().map(|f| f(ch)),
                _ => None,
            },
            Err(_) => None,
        });
        if let Ok(Some(r)) = hit {
            return r;
        }
    }
    let ch = channel(arg, handle)?;
    let old = CHANNEL_CACHE
        .try_with(|c| {
            c.try_borrow_mut()
                .ok()
                .map(|mut c| c.replace((handle, ch.clone())))
        })
        .ok()
        .flatten()
        .flatten();
    if let Some((_, old)) = old {
        // Dropping what may be the last reference to a channel closes it;
        // do it inside the runtime's context, as sk_channel_free does.
        let _ = crate::runtime::enter(move || drop(old));
    }
    match f.take() {
        Some(f) => f(&ch),
        None => Err(streamkit_core::Error::Internal(
            "channel callback ran twice".into(),
        )),
    }
}

/// Forget this thread's cached channel if it is `handle`'s.
pub(crate) fn forget_cached_channel(handle: usize) {
    let old = CHANNEL_CACHE
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut c) if c.as_ref().is_some_and(|(h, _)| *h == handle) => c.take(),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some((_, old)) = old {
        let _ = crate::runtime::enter(move || drop(old));
    }
}

/// Unregister a peer handle; None if it was not live.
pub(crate) fn remove_peer(handle: usize) -> Option<Peer> {
    match remove(Kind::Peer, handle)? {
        Entry::Peer(p) => Some(p),
        Entry::Channel(_) => None,
    }
}

/// Unregister a channel handle; None if it was not live.
pub(crate) fn remove_channel(handle: usize) -> Option<Channel> {
    match remove(Kind::Channel, handle)? {
        Entry::Channel(c) => Some(c),
        Entry::Peer(_) => None,
    }
}

/// Number of live handles of both kinds.
pub(crate) fn live() -> usize {
    lock(&ALLOC).live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let h = encode(Kind::Peer, 5, 7);
        assert_eq!(decode(h, Kind::Peer), Some((5, 7)));
        assert_eq!(decode(h, Kind::Channel), None);
        assert_eq!(decode(0, Kind::Peer), None);
        // A typical heap or stack address never carries a tag byte.
        assert_eq!(decode(0x7fff_1234_5670, Kind::Peer), None);
    }

    /// Handles across several slot chunks: each resolves to its own object,
    /// a freed one is invalid (also after its slot is reused) and the live
    /// count follows. Other tests may run concurrently, so counts are
    /// compared as differences of at least what this test did.
    #[test]
    fn slots_do_not_share_cache_lines() {
        assert!(std::mem::align_of::<Slot>() >= 128);
    }

    #[test]
    fn many_handles_across_chunks() {
        let n = CHUNK * 2 + 7;
        let peers: Vec<Peer> = (0..n)
            .map(|i| {
                let p = Peer::new();
                p.set_option_str(streamkit_core::PeerOption::Name, &format!("p{i}"))
                    .unwrap();
                p
            })
            .collect();
        let hs: Vec<usize> = peers
            .iter()
            .map(|p| insert_peer(p.clone()).unwrap())
            .collect();
        assert!(live() >= n);
        for (i, &h) in hs.iter().enumerate() {
            // A peer handle resolves to that very peer (same inner object).
            let got = peer("p", h).unwrap();
            assert_eq!(
                got.get_option_str(streamkit_core::PeerOption::Name)
                    .unwrap(),
                format!("p{i}")
            );
            assert!(
                channel("c", h).is_err(),
                "a peer handle is not a channel handle"
            );
        }
        // Free every other handle; the rest still resolve.
        for &h in hs.iter().step_by(2) {
            assert!(remove_peer(h).is_some());
            assert!(remove_peer(h).is_none(), "freed twice");
            assert!(peer("p", h).is_err(), "freed handle must be invalid");
        }
        for &h in hs.iter().skip(1).step_by(2) {
            assert!(peer("p", h).is_ok());
        }
        // Reuse the freed slots: new handles differ from the old ones, which
        // stay invalid.
        let again: Vec<usize> = (0..n / 2)
            .map(|_| insert_peer(Peer::new()).unwrap())
            .collect();
        for &h in hs.iter().step_by(2) {
            assert!(!again.contains(&h));
            assert!(peer("p", h).is_err());
        }
        for &h in again.iter().chain(hs.iter().skip(1).step_by(2)) {
            assert!(remove_peer(h).is_some());
        }
    }
}
