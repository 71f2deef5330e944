//! Shared helpers: the verified data pattern, 64-byte test frames, CPU and
//! memory accounting, statistics.

use bytes::Bytes;
use std::sync::OnceLock;
use std::time::Duration;

/// The byte stream is `PAT[o % PERIOD]` at absolute offset `o`. PERIOD is a
/// prime, so it never lines up with write or read sizes and a shifted,
/// dropped, duplicated or reordered chunk fails the comparison.
pub const PERIOD: usize = 999_983;
/// Longest slice ever taken from the pattern at one offset.
pub const MAX_SLICE: usize = 1 << 20;
/// Size of one bulk write.
pub const WRITE: usize = 64 * 1024;
/// Size of a small frame's payload.
pub const FRAME: usize = 64;

pub fn pattern() -> &'static Bytes {
    static P: OnceLock<Bytes> = OnceLock::new();
    P.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v = Vec::with_capacity(PERIOD + MAX_SLICE);
        for _ in 0..PERIOD {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push((x >> 24) as u8);
        }
        for i in 0..MAX_SLICE {
            let b = v[i];
            v.push(b);
        }
        Bytes::from(v)
    })
}

/// The `n` bytes expected at absolute stream offset `off` (n <= MAX_SLICE).
pub fn expected(off: u64, n: usize) -> Bytes {
    let s = (off % PERIOD as u64) as usize;
    pattern().slice(s..s + n)
}

/// Checks a byte stream chunk by chunk against the pattern.
#[derive(Debug, Default)]
pub struct Verifier {
    pub off: u64,
}

impl Verifier {
    /// Verify the next chunk; Err describes the first mismatch.
    pub fn check(&mut self, data: &[u8]) -> Result<(), String> {
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(MAX_SLICE);
            let exp = expected(self.off, n);
            if exp[..] != data[done..done + n] {
                let i = exp
                    .iter()
                    .zip(&data[done..done + n])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(format!(
                    "byte stream corrupted at offset {}",
                    self.off + i as u64
                ));
            }
            self.off += n as u64;
            done += n;
        }
        Ok(())
    }
}

/// A 64-byte frame carrying sequence number `seq`; every byte depends on it.
pub fn frame(seq: u64) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..8].copy_from_slice(&seq.to_le_bytes());
    let s = seq as u8;
    for (i, b) in f.iter_mut().enumerate().skip(8) {
        *b = s.wrapping_mul(31).wrapping_add(i as u8);
    }
    f
}

pub fn check_frame(got: &[u8], seq: u64) -> Result<(), String> {
    if got.len() != FRAME {
        return Err(format!(
            "frame {seq}: {} bytes instead of {FRAME}",
            got.len()
        ));
    }
    if got != frame(seq) {
        let had = u64::from_le_bytes(got[..8].try_into().unwrap_or([0; 8]));
        return Err(format!(
            "frame {seq}: wrong content (carries sequence number {had})"
        ));
    }
    Ok(())
}

/// User + system CPU time of this process and of its waited-for children.
pub fn cpu_seconds() -> f64 {
    fn one(who: libc::c_int) -> f64 {
        // SAFETY: getrusage only writes into the struct we pass.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(ru.ru_utime) + t(ru.ru_stime)
    }
    one(libc::RUSAGE_SELF) + one(libc::RUSAGE_CHILDREN)
}

/// Resident set size of this process, bytes (VmRSS).
pub fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in s.lines() {
        if let Some(v) = l.strip_prefix("VmRSS:") {
            let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            return kb * 1024;
        }
    }
    0
}

/// Samples RSS every 5 ms on its own thread until dropped; reports the peak.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    th: Option<std::thread::JoinHandle<u64>>,
}

impl RssSampler {
    pub fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let th = std::thread::spawn(move || {
            let mut peak = rss_bytes();
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak.max(rss_bytes())
        });
        RssSampler { stop, th: Some(th) }
    }
    pub fn peak(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.th.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The q-quantile (0..=1) of a sample, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("streamkit-bench-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The system allocator, counting live heap bytes while `COUNTING` is on
/// (only around the idle-channel memory measurement, so the other
/// scenarios pay one relaxed load per allocation and nothing else).
pub struct CountingAlloc;

pub static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
pub static LIVE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as i64, std::sync::atomic::Ordering::Relaxed);
        }
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_sub(l.size() as i64, std::sync::atomic::Ordering::Relaxed);
        }
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as i64, std::sync::atomic::Ordering::Relaxed);
        }
        unsafe { std::alloc::System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(
                n as i64 - l.size() as i64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}
