//! Whether the server is busy: the share of a core the process used over the last moments.
//!
//! Holding a frame back so that it shares a write with the next ones saves the write's cost,
//! but delays the frame. That trade is worth it only when writes are what the machine is short
//! of: a server that used less than `threshold` cores over the last window writes every frame
//! at once, whatever its topics' pace; one that used more may hold frames of busy topics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a sample of the process's CPU time stands.
const WINDOW: Duration = Duration::from_millis(20);

/// Read by every send, on every topic: within a window that is two atomic loads, so sends on
/// different cores share its cache line instead of taking turns with a lock.
pub(crate) struct Load {
    /// Cores the process must have used over a window to count as busy.
    threshold: f64,
    cpu_time: fn() -> Option<Duration>,
    /// What `sampled_at` counts from.
    start: Instant,
    /// When the standing sample was taken, in nanoseconds since `start`.
    sampled_at: AtomicU64,
    /// Whether the process was busy over the window that ended then.
    busy: AtomicBool,
    /// The process's CPU time then. Locked only to take the next sample, once a window.
    cpu: Mutex<Option<Duration>>,
}

impl Load {
    pub(crate) fn new(threshold: f64) -> Self {
        Self::with_clock(threshold, process_cpu_time)
    }

    fn with_clock(threshold: f64, cpu_time: fn() -> Option<Duration>) -> Self {
        Self {
            threshold,
            cpu_time,
            start: Instant::now(),
            sampled_at: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            cpu: Mutex::new(cpu_time()),
        }
    }

    /// Whether the process used more than the threshold over the last window ending near
    /// `now`. Reads the CPU time at most once a window: this runs once per send. Sends that
    /// come while another takes the next sample go by the standing one.
    pub(crate) fn is_busy(&self, now: Instant) -> bool {
        let now = self.nanos(now);
        if now.saturating_sub(self.sampled_at.load(Ordering::Acquire)) < nanos(WINDOW) {
            return self.busy.load(Ordering::Relaxed);
        }
        let mut before = match self.cpu.try_lock() {
            Ok(cpu) => cpu,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return self.busy.load(Ordering::Relaxed),
        };
        // Another send may have taken the sample since.
        let elapsed = now.saturating_sub(self.sampled_at.load(Ordering::Acquire));
        if elapsed < nanos(WINDOW) {
            return self.busy.load(Ordering::Relaxed);
        }
        let cpu = (self.cpu_time)();
        let busy = match (*before, cpu) {
            (Some(before), Some(after)) => {
                after.saturating_sub(before).as_secs_f64()
                    > self.threshold * Duration::from_nanos(elapsed).as_secs_f64()
            }
            _ => false,
        };
        *before = cpu;
        self.busy.store(busy, Ordering::Relaxed);
        self.sampled_at.store(now, Ordering::Release);
        busy
    }

    fn nanos(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.start))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn process_cpu_time() -> Option<Duration> {
    cpu_time::ProcessTime::try_now()
        .ok()
        .map(|time| time.as_duration())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static CPU_MS: AtomicU64 = AtomicU64::new(0);

    #[allow(clippy::unnecessary_wraps, reason = "the shape of a CPU clock")]
    fn fake_cpu() -> Option<Duration> {
        Some(Duration::from_millis(CPU_MS.load(Ordering::Relaxed)))
    }

    #[test]
    fn busy_only_above_the_threshold_and_sampled_once_a_window() {
        CPU_MS.store(1_000, Ordering::Relaxed);
        let load = Load::with_clock(0.5, fake_cpu);
        let start = load.start;
        assert!(!load.is_busy(start));
        // 10 ms of CPU in 40 ms: a quarter of a core.
        CPU_MS.store(1_010, Ordering::Relaxed);
        assert!(!load.is_busy(start + Duration::from_millis(40)));
        // 30 ms in 40 ms: three quarters.
        CPU_MS.store(1_040, Ordering::Relaxed);
        assert!(load.is_busy(start + Duration::from_millis(80)));
        // Within the window the sample stands, whatever the CPU did meanwhile.
        CPU_MS.store(1_040, Ordering::Relaxed);
        assert!(load.is_busy(start + Duration::from_millis(90)));
        assert!(!load.is_busy(start + Duration::from_millis(200)));
    }

    #[test]
    fn an_infinite_threshold_is_never_reached() {
        CPU_MS.fetch_add(1_000, Ordering::Relaxed);
        let load = Load::with_clock(f64::INFINITY, fake_cpu);
        CPU_MS.fetch_add(1_000_000, Ordering::Relaxed);
        assert!(!load.is_busy(Instant::now() + Duration::from_secs(1)));
    }

    #[test]
    fn the_process_cpu_time_can_be_read() {
        assert!(process_cpu_time().is_some());
    }
}
