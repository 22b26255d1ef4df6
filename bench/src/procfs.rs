//! What Linux tells about a process: CPU time from `/proc/<pid>/stat`, resident memory from
//! `/proc/<pid>/status`; and about the machine: the time the hypervisor took its cores away
//! (steal) from `/proc/stat`.

use std::io;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`): 100 on every Linux architecture
/// the kernel exposes to user space.
const USER_HZ: u64 = 100;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// User plus system CPU time of the process `pid` (all its threads, living or ended) from
/// `/proc/<pid>/stat`, `"self"` for this process. Resolution: 10 ms.
///
/// # Errors
///
/// When the process does not exist or the file cannot be parsed.
pub fn cpu_time(pid: &str) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_time(&stat).ok_or_else(|| invalid("unexpected /proc/<pid>/stat"))
}

/// User and system CPU time, apart, of `/proc/<pid>/stat`: `"self"` for this process,
/// `"thread-self"` for the calling thread. Resolution: 10 ms.
///
/// # Errors
///
/// As [`cpu_time()`].
pub fn user_system_time(pid: &str) -> io::Result<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_user_system(&stat).ok_or_else(|| invalid("unexpected /proc/<pid>/stat"))
}

fn parse_cpu_time(stat: &str) -> Option<Duration> {
    parse_user_system(stat).map(|(user, system)| user + system)
}

fn parse_user_system(stat: &str) -> Option<(Duration, Duration)> {
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last
    // ')'. The first field after it is field 3 (state); utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = |n: u64| Duration::from_millis(n * 1000 / USER_HZ);
    Some((ticks(utime), ticks(stime)))
}

/// The cores' time the hypervisor gave to other machines while this one had work for them
/// (steal), since boot and summed over every core, and the number of cores: from the `cpu`
/// lines of `/proc/stat`. Resolution: 10 ms.
///
/// # Errors
///
/// When the file cannot be read or parsed.
pub fn stolen() -> io::Result<(Duration, usize)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    parse_stolen(&stat).ok_or_else(|| invalid("unexpected /proc/stat"))
}

/// One reading of [`stolen`], and when it was taken.
#[derive(Debug, Clone, Copy)]
pub struct StealReading {
    /// Steal time since boot, summed over the cores.
    pub stolen: Duration,
    /// The machine's cores.
    pub cores: usize,
    /// When it was read.
    pub at: Instant,
}

impl StealReading {
    /// Reads [`stolen`] now; `None` where `/proc/stat` cannot tell.
    #[must_use]
    pub fn now() -> Option<Self> {
        let (stolen, cores) = stolen().ok()?;
        Some(Self {
            stolen,
            cores,
            at: Instant::now(),
        })
    }

    /// The share of the cores' time stolen between `earlier` and this reading, percent.
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "a handful of cores")]
    pub fn percent_since(&self, earlier: &Self) -> Option<f64> {
        let capacity = self.at.duration_since(earlier.at).as_secs_f64() * self.cores as f64;
        let stolen = self.stolen.saturating_sub(earlier.stolen).as_secs_f64();
        (capacity > 0.0).then(|| stolen * 100.0 / capacity)
    }
}

fn parse_stolen(stat: &str) -> Option<(Duration, usize)> {
    let mut lines = stat.lines();
    // `cpu  user nice system idle iowait irq softirq steal ...`: steal is the eighth number.
    let total = lines.next()?.strip_prefix("cpu ")?;
    let steal: u64 = total.split_whitespace().nth(7)?.parse().ok()?;
    let cores = lines
        .take_while(|line| line.starts_with("cpu"))
        .filter(|line| line[3..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    (cores > 0).then(|| (Duration::from_millis(steal * 1000 / USER_HZ), cores))
}

/// Resident memory (`VmRSS`) of the process `pid` in bytes, `"self"` for this process.
///
/// # Errors
///
/// When the process does not exist or the file has no `VmRSS` line.
pub fn rss_bytes(pid: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss(&status).ok_or_else(|| invalid("no VmRSS in /proc/<pid>/status"))
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line["VmRSS:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "123 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 99 100 200";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_user_system(stat),
            Some((Duration::from_millis(2500), Duration::from_millis(500)))
        );
        assert!(user_system_time("thread-self").is_ok());
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t   2048 kB\nVmSwap: 0 kB\n"),
            Some(2048 * 1024)
        );
        assert!(cpu_time("self").is_ok());
        assert!(rss_bytes("self").unwrap() > 0);
        let stat = "cpu  4253 0 920 12258 43 0 196 824 0 0\n\
                    cpu0 2000 0 400 6000 20 0 90 400 0 0\n\
                    cpu1 2253 0 520 6258 23 0 106 424 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(parse_stolen(stat), Some((Duration::from_millis(8240), 2)));
        assert_eq!(parse_stolen("cpu  1 2 3\n"), None, "no steal field");
        assert!(stolen().is_ok_and(|(_, cores)| cores > 0));
        let earlier = StealReading::now().unwrap();
        let later = StealReading {
            stolen: earlier.stolen + Duration::from_millis(100),
            cores: 2,
            at: earlier.at + Duration::from_secs(1),
        };
        assert_eq!(later.percent_since(&earlier), Some(5.0));
        assert_eq!(
            earlier.percent_since(&earlier),
            None,
            "no time between them"
        );
    }
}
