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
//! freeing a handle while another thread uses it is safe.

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

#[derive(Debug)]
struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
}

/// Most handles alive at once (24 bits of slot index).
const MAX_SLOTS: usize = (1 << 24) - 1;

static TABLE: Mutex<Table> = Mutex::new(Table { slots: Vec::new(), free: Vec::new(), live: 0 });

fn table() -> MutexGuard<'static, Table> {
    // A panic while holding the lock cannot leave the table inconsistent
    // (every mutation is a single assignment), so poisoning is ignored.
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
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
    let mut t = table();
    let index = match t.free.pop() {
        Some(i) => i,
        None => {
            if t.slots.len() >= MAX_SLOTS {
                return Err(invalid(format!(
                    "too many live streamkit handles ({MAX_SLOTS}); free some first"
                )));
            }
            t.slots.push(Slot { generation: 1, entry: None });
            t.slots.len() - 1
        }
    };
    let slot = &mut t.slots[index];
    slot.entry = Some(entry);
    let generation = slot.generation;
    t.live += 1;
    Ok(encode(kind, index, generation))
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
    let t = table();
    let found = decode(handle, kind).and_then(|(index, generation)| {
        let slot = t.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        match slot.entry.as_ref()? {
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
    let mut t = table();
    let (index, generation) = decode(handle, kind)?;
    let slot = t.slots.get_mut(index)?;
    if slot.generation != generation || slot.entry.as_ref().map(Entry::kind) != Some(kind) {
        return None;
    }
    let entry = slot.entry.take();
    // Skip 0 on wrap-around so a slot's generation is never 0.
    slot.generation = slot.generation.checked_add(1).unwrap_or(1);
    t.free.push(index);
    t.live -= 1;
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
    table().live
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
}
