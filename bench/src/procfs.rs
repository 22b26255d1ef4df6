//! What Linux tells about a process: CPU time from `/proc/<pid>/stat`, resident memory from
//! `/proc/<pid>/status`.

use std::io;
use std::time::Duration;

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
    }
}
