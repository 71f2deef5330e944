//! Property test of the frame reader through real channels: arbitrary bytes
//! written with `write()` to a channel whose other side calls `read_frame()`
//! with a small MAX_FRAME_SIZE (1 KiB). The reader returns exactly the frames
//! a reference parser finds, then a clean end (`None`) or a protocol error
//! (oversized length, stream ended mid-frame); it never panics and never
//! makes an allocation anywhere near a declared length.
//!
//! Both transports: inproc (many cases) and SSH over TCP (fewer cases).
//! Cases: PROPTEST_CASES if set, else 300 (fast) or 100,000 (STREAMKIT_SOAK=1)
//! for inproc; a tenth of that over TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// test code may abort

// Tests in a file hold SERIAL (a std Mutex) across awaits on purpose: each
// test has its own runtime, the lock only makes them run one at a time.
#![allow(clippy::await_holding_lock)]

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use streamkit_core::{ErrorKind, Peer, PeerOption};

// Largest single allocation in the whole process while tracking is on (this
// binary runs one test at a time: see SERIAL).
struct Counting;
static TRACK: AtomicBool = AtomicBool::new(false);
static MAX: AtomicUsize = AtomicUsize::new(0);
fn note(n: usize) {
    if TRACK.load(Ordering::Relaxed) {
        MAX.fetch_max(n, Ordering::Relaxed);
    }
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

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const MAX_FRAME: usize = 1024;
/// No single allocation during a case may reach this: far below any lying
/// length prefix the inputs can carry (up to 4 GiB), above the transport's
/// own buffers (64 KiB SSH packets, 256 KiB channel window).
const ALLOC_LIMIT: usize = 1 << 20;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// (writer, reader) peers; the reader has MAX_FRAME_SIZE = 1 KiB.
fn peers(tcp: bool) -> &'static (Peer, Peer) {
    static INPROC: OnceLock<(Peer, Peer)> = OnceLock::new();
    static TCP: OnceLock<(Peer, Peer)> = OnceLock::new();
    let cell = if tcp { &TCP } else { &INPROC };
    cell.get_or_init(|| {
        rt().block_on(async {
            let w = streamkit_reliability::peer("writer");
            let r = streamkit_reliability::peer("reader");
            streamkit_reliability::trust_all(&[&w, &r], &[]);
            r.set_option_int(PeerOption::MaxFrameSize, MAX_FRAME as i64)
                .unwrap();
            let ep = if tcp {
                "tcp://127.0.0.1:0".to_string()
            } else {
                format!("inproc://sk-rel-frames-{}", std::process::id())
            };
            let ep = r.bind(&ep).await.unwrap();
            w.connect(&ep).await.unwrap();
            streamkit_reliability::wait_for_peer(&r, "writer", std::time::Duration::from_secs(10))
                .await;
            (w, r)
        })
    })
}

#[derive(Debug, PartialEq)]
enum End {
    Eof,
    Protocol,
}

/// The reference parser.
fn model(b: &[u8], max: usize) -> (Vec<Vec<u8>>, End) {
    let mut frames = Vec::new();
    let mut i = 0;
    loop {
        if i == b.len() {
            return (frames, End::Eof);
        }
        if b.len() - i < 4 {
            return (frames, End::Protocol);
        }
        let n = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        if n > max || b.len() - i - 4 < n {
            return (frames, End::Protocol);
        }
        frames.push(b[i + 4..i + 4 + n].to_vec());
        i += 4 + n;
    }
}

/// Inputs: mostly well-formed frame sequences with a mutated tail, plus raw bytes.
fn arb_input() -> impl Strategy<Value = Vec<u8>> {
    let frame = prop::collection::vec(any::<u8>(), 0..(MAX_FRAME + 64)).prop_map(|p| {
        let mut v = (p.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&p);
        v
    });
    let lying = prop_oneof![
        Just(u32::MAX),
        Just(0x8000_0000u32),
        Just(MAX_FRAME as u32 + 1),
        Just(MAX_FRAME as u32),
        any::<u32>()
    ]
    .prop_map(|n| n.to_be_bytes().to_vec());
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        (
            prop::collection::vec(frame, 0..6),
            prop::collection::vec(any::<u8>(), 0..8),
            any::<bool>()
        )
            .prop_map(|(fs, tail, keep)| {
                let mut v: Vec<u8> = fs.concat();
                if keep {
                    v.extend_from_slice(&tail);
                }
                v
            }),
        (
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..4),
            lying,
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(fs, l, rest)| {
                let mut v = Vec::new();
                for f in fs {
                    v.extend_from_slice(&(f.len() as u32).to_be_bytes());
                    v.extend_from_slice(&f);
                }
                v.extend_from_slice(&l);
                v.extend_from_slice(&rest);
                v
            }),
    ]
}

fn run_case(tcp: bool, input: &[u8], chunk: usize) -> Result<(), TestCaseError> {
    let (w, r) = peers(tcp);
    let (frames, end) = rt().block_on(async {
        let a = w.open("reader", "frames", &[]).await.unwrap();
        let b = tokio::time::timeout(std::time::Duration::from_secs(10), r.accept())
            .await
            .expect("accept")
            .unwrap();
        for c in input.chunks(chunk.max(1)) {
            a.write(c).await.unwrap();
        }
        a.close_write().await.unwrap();
        MAX.store(0, Ordering::Relaxed);
        TRACK.store(true, Ordering::Relaxed);
        let mut got = Vec::new();
        let end = loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), b.read_frame())
                .await
                .expect("read_frame hung")
            {
                Ok(Some(f)) => got.push(f.to_vec()),
                Ok(None) => break Ok(End::Eof),
                Err(e) if e.kind() == ErrorKind::Protocol => break Ok(End::Protocol),
                Err(e) => break Err(e),
            }
        };
        TRACK.store(false, Ordering::Relaxed);
        let _ = b.close().await;
        let _ = a.close().await;
        (got, end)
    });
    let m = MAX.load(Ordering::Relaxed);
    let end = end.map_err(|e| {
        TestCaseError::fail(format!("read_frame failed with a non-protocol error: {e}"))
    })?;
    let (want, want_end) = model(input, MAX_FRAME);
    prop_assert_eq!(frames, want);
    prop_assert_eq!(end, want_end);
    prop_assert!(
        m < ALLOC_LIMIT,
        "a single allocation of {m} bytes while reading {} bytes",
        input.len()
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if streamkit_reliability::soak() {
            100_000
        } else {
            300
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn frame_reader_inproc(input in arb_input(), chunk in 1usize..2048) {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        run_case(false, &input, chunk)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: (cases() / 10).max(30), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn frame_reader_ssh(input in arb_input(), chunk in 1usize..2048) {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        run_case(true, &input, chunk)?;
    }
}
