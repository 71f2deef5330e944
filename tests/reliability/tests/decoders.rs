//! Property tests of the public wire decoders in `streamkit_core::proto`:
//! `Ctl::decode` (HELLO, OPEN, CREDIT, TRAILERS, FIN, CLOSE bodies) and the
//! incremental `CtlReader` (length-prefixed control stream). Arbitrary and
//! mutated-valid bytes never panic, and the largest single allocation made
//! while decoding stays proportional to the input (a lying length or count
//! never allocates what it declares).
//!
//! Cases: PROPTEST_CASES if set, else 2,000 (fast) or 100,000 (STREAMKIT_SOAK=1).

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use streamkit_core::proto::{Ctl, CtlReader, MAX_CONTROL_LEN, VERSION};

// ---------------------------------------------------------------------------
// Largest single allocation made by this thread while tracking is on.

struct Counting;
thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static MAX: Cell<usize> = const { Cell::new(0) };
}
fn note(n: usize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = MAX.try_with(|m| m.set(m.get().max(n)));
        }
    });
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n);
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

/// Run `f` and return its result and the largest single allocation it made.
fn max_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    MAX.with(|m| m.set(0));
    TRACK.with(|t| t.set(true));
    let r = f();
    TRACK.with(|t| t.set(false));
    (r, MAX.with(|m| m.get()))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if streamkit_reliability::soak() {
            100_000
        } else {
            2_000
        })
}

// ---------------------------------------------------------------------------
// Strategies

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-z=,]{0,40}", Just(String::new())]
}

fn arb_ctl() -> impl Strategy<Value = Ctl> {
    prop_oneof![
        (any::<u8>(), arb_string(), any::<u32>()).prop_map(|(version, name, window)| Ctl::Hello {
            version,
            name,
            window
        }),
        (
            any::<u8>(),
            any::<u64>(),
            any::<u64>(),
            arb_string(),
            prop::collection::vec(arb_string(), 0..6)
        )
            .prop_map(|(version, id, parent, service, headers)| Ctl::Open {
                version,
                id,
                parent,
                service,
                headers
            }),
        (any::<u8>(), any::<u32>()).prop_map(|(stream, bytes)| Ctl::Credit { stream, bytes }),
        prop::collection::vec(arb_string(), 0..6).prop_map(Ctl::Trailers),
        Just(Ctl::Fin),
        (any::<u32>(), arb_string()).prop_map(|(code, reason)| Ctl::Close { code, reason }),
    ]
}

/// A mutation of an encoded message body: truncate, flip a byte, plant a
/// huge u32 (a lying length or count) at some offset, or append junk.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    HugeU32(usize, u32),
    Append(Vec<u8>),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(u32::MAX),
                Just(0x8000_0000u32),
                Just(4097u32),
                Just(MAX_CONTROL_LEN as u32 + 1),
                any::<u32>()
            ]
        )
            .prop_map(|(i, v)| Mutation::HugeU32(i, v)),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        match m {
            Mutation::Truncate(i) => {
                let n = if b.is_empty() { 0 } else { i % (b.len() + 1) };
                b.truncate(n);
            }
            Mutation::Flip(i, x) if !b.is_empty() => {
                let k = i % b.len();
                b[k] ^= x | 1;
            }
            Mutation::HugeU32(i, v) if b.len() >= 4 => {
                let k = i % (b.len() - 3);
                b[k..k + 4].copy_from_slice(&v.to_be_bytes());
            }
            Mutation::Append(j) => b.extend_from_slice(j),
            _ => {}
        }
    }
    b
}

/// The allowed allocation for decoding `n` input bytes: strings are at most
/// the input, and a list needs 4 input bytes per (24-byte) String.
fn alloc_bound(n: usize) -> usize {
    8 * n + 256
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes: decode never panics and allocates O(input).
    #[test]
    fn ctl_decode_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..1024)) {
        let (_r, m) = max_alloc(|| Ctl::decode(&body));
        prop_assert!(m <= alloc_bound(body.len()), "decoding {} bytes allocated {m} bytes at once", body.len());
    }

    /// Arbitrary bytes behind a valid type byte.
    #[test]
    fn ctl_decode_typed_garbage(t in 0u8..8, rest in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut body = vec![t];
        body.extend_from_slice(&rest);
        let (_r, m) = max_alloc(|| Ctl::decode(&body));
        prop_assert!(m <= alloc_bound(body.len()));
    }

    /// Valid messages, mutated (truncated, flipped, lying lengths/counts, junk).
    #[test]
    fn ctl_decode_mutated_valid(msg in arb_ctl(), ms in prop::collection::vec(arb_mutation(), 1..4)) {
        let enc = msg.encode();
        let body = mutate(enc[4..].to_vec(), &ms);
        let (r, m) = max_alloc(|| Ctl::decode(&body));
        prop_assert!(m <= alloc_bound(body.len()), "decoding {} bytes allocated {m} bytes at once", body.len());
        // whatever decodes must re-encode to exactly the same bytes
        if let Ok(c) = r {
            prop_assert_eq!(&c.encode()[4..], &body[..]);
        }
    }

    /// encode/decode round trip, through CtlReader fed in arbitrary chunks.
    #[test]
    fn ctl_roundtrip_through_reader(msgs in prop::collection::vec(arb_ctl(), 1..6), cut in prop::collection::vec(1usize..64, 1..32)) {
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend_from_slice(&m.encode());
        }
        let mut r = CtlReader::default();
        let mut out = Vec::new();
        let mut i = 0;
        let mut k = 0;
        while i < wire.len() {
            let n = cut[k % cut.len()].min(wire.len() - i);
            k += 1;
            r.push(&wire[i..i + n]);
            i += n;
            while let Some(m) = r.next_msg().map_err(|e| TestCaseError::fail(e.0))? {
                out.push(m);
            }
        }
        prop_assert_eq!(out, msgs);
        prop_assert_eq!(r.next_msg(), Ok(None));
    }

    /// CtlReader fed arbitrary chunks: never panics; allocation bounded by
    /// what was pushed (a declared length is never allocated up front).
    #[test]
    fn ctl_reader_arbitrary_chunks(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12)) {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let (_, m) = max_alloc(|| {
            let mut r = CtlReader::default();
            'outer: for c in &chunks {
                r.push(c);
                loop {
                    match r.next_msg() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        });
        prop_assert!(m <= alloc_bound(total) + 2 * total, "pushing {total} bytes allocated {m} at once");
    }

    /// A length prefix above MAX_CONTROL_LEN fails as soon as the prefix is
    /// known, without waiting for (or allocating) the body.
    #[test]
    fn ctl_reader_oversized_prefix(len in (MAX_CONTROL_LEN as u32 + 1)..=u32::MAX, tail in prop::collection::vec(any::<u8>(), 0..16)) {
        let (r, m) = max_alloc(|| {
            let mut r = CtlReader::default();
            r.push(&len.to_be_bytes());
            r.push(&tail);
            r.next_msg()
        });
        prop_assert!(r.is_err());
        prop_assert!(m <= 4096, "allocated {m}");
    }

    /// A valid length prefix with a body that never completes: Ok(None), no
    /// allocation of the declared size.
    #[test]
    fn ctl_reader_incomplete_body(len in 1u32..=(MAX_CONTROL_LEN as u32), have in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!((have.len() as u32) < len);
        let (r, m) = max_alloc(|| {
            let mut r = CtlReader::default();
            r.push(&len.to_be_bytes());
            r.push(&have);
            r.next_msg()
        });
        prop_assert_eq!(r, Ok(None));
        prop_assert!(m <= 4096, "allocated {m}");
    }
}

#[test]
fn hello_and_open_examples_decode() {
    // sanity: the strategies above reach real messages
    let h = Ctl::Hello {
        version: VERSION,
        name: "a".into(),
        window: 1 << 18,
    }
    .encode();
    assert!(matches!(Ctl::decode(&h[4..]), Ok(Ctl::Hello { .. })));
}

#[test]
fn allocation_tracker_works() {
    let (v, m) = max_alloc(|| vec![0u8; 100_000]);
    assert_eq!(v.len(), 100_000);
    assert!(m >= 100_000, "tracker saw {m}");
}
