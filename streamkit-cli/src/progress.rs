//! A progress line on stderr (indicatif), drawn only when stderr is a
//! terminal, and only once a transfer has run for a moment.

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Byte counters shared between the copy loops and the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub active: AtomicU64,
    pub total: AtomicU64,
    /// How many bytes will be sent in all, when known (stdin is a regular
    /// file); 0 when unknown.
    pub upload_size: AtomicU64,
}

impl Counters {
    pub fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub fn add_received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The progress line. Hidden unless enabled and stderr is a terminal.
pub struct Progress {
    pb: ProgressBar,
    ticker: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Whether a progress line may be drawn: stderr must be a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn rate(bytes: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{}/s", HumanBytes((bytes as f64 / secs) as u64))
}

/// "sent 12 MiB of 100 MiB (12%, 40 MiB/s, 2s left)".
fn sent_of(sent: u64, size: u64, secs: f64) -> String {
    let pct = (sent.min(size) as f64 * 100.0 / size as f64).floor();
    let left = if sent > 0 && secs > 0.0 && sent < size {
        let per_sec = sent as f64 / secs;
        let eta = Duration::from_secs_f64((size - sent) as f64 / per_sec);
        format!(", {} left", HumanDuration(eta))
    } else {
        String::new()
    };
    format!(
        "sent {} of {} ({pct:.0}%, {}{left})",
        HumanBytes(sent),
        HumanBytes(size),
        rate(sent, secs)
    )
}

impl Progress {
    /// Start a progress line labelled `label`. With `enabled` false (or stderr
    /// not a terminal) nothing is ever drawn.
    pub fn start(
        label: &str,
        enabled: bool,
        counters: Arc<Counters>,
        show_connections: bool,
    ) -> Progress {
        if !enabled || !stderr_is_terminal() {
            return Progress {
                pb: ProgressBar::hidden(),
                ticker: std::sync::Mutex::new(None),
            };
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_prefix(label.to_string());
        let pb2 = pb.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            // Short transfers never show a line.
            tokio::time::sleep(Duration::from_millis(700)).await;
            pb2.set_draw_target(ProgressDrawTarget::stderr());
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let secs = started.elapsed().as_secs_f64();
                let sent = counters.sent.load(Ordering::Relaxed);
                let recv = counters.received.load(Ordering::Relaxed);
                let mut parts = Vec::new();
                let size = counters.upload_size.load(Ordering::Relaxed);
                if size > 0 {
                    parts.push(sent_of(sent, size, secs));
                } else if sent > 0 || recv == 0 {
                    parts.push(format!("sent {} ({})", HumanBytes(sent), rate(sent, secs)));
                }
                if recv > 0 {
                    parts.push(format!(
                        "received {} ({})",
                        HumanBytes(recv),
                        rate(recv, secs)
                    ));
                }
                let mut msg = parts.join("  ");
                if show_connections {
                    let total = counters.total.load(Ordering::Relaxed);
                    msg = format!(
                        "{total} connection{} ({} active)  {msg}",
                        if total == 1 { "" } else { "s" },
                        counters.active.load(Ordering::Relaxed)
                    );
                }
                pb2.set_message(msg);
                pb2.tick();
            }
        });
        Progress {
            pb,
            ticker: std::sync::Mutex::new(Some(ticker)),
        }
    }

    /// Print a line on stderr without garbling the progress line.
    pub fn eprintln(&self, line: &str) {
        self.pb.suspend(|| eprintln!("{line}"));
    }

    /// Remove the progress line.
    pub fn finish(&self) {
        let t = self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            t.abort();
        }
        self.pb.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_of_shows_percentage_and_time_left() {
        let line = sent_of(25 << 20, 100 << 20, 1.0);
        assert!(
            line.starts_with("sent 25.00 MiB of 100.00 MiB (25%"),
            "{line}"
        );
        assert!(line.ends_with("3 seconds left)"), "{line}");
        let done = sent_of(100 << 20, 100 << 20, 4.0);
        assert!(done.contains("(100%") && !done.contains("left"), "{done}");
        // A file that grew while it was sent never shows more than 100%.
        assert!(sent_of(200, 100, 1.0).contains("(100%"));
    }
}
