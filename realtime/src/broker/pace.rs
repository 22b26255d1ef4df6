//! A topic's pace, and whether its clients keep up. While the server is busy (see `load`), it
//! tells a stream whether a frame is worth holding back so that it shares one write with later
//! sends': only when the topic is sent to often, so that company is likely soon, and its
//! clients are falling behind anyway (recent sends found their frames still queued), so that
//! writing at once would only queue up behind the writes in progress. A quiet topic's frame,
//! or one whose clients keep up, is written at once.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Pace {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    /// A moving average of the time between sends.
    interval: Option<Duration>,
    /// The share of their clients the sends found behind, in thousandths: each send's share
    /// averaged with what came before, so the last few count, the latest most.
    behind: u32,
}

/// The share of clients behind (in thousandths, averaged over the last sends) from which a
/// topic's frames may be held: a quarter.
const BEHIND: u32 = 250;

impl Pace {
    /// Records a send at `now` and says how long its frames may wait for later sends' to join
    /// them: `None` (write at once) unless the topic was sent to less than `max_delay` before,
    /// and is usually, and its recent sends found more than a quarter of their clients behind;
    /// otherwise `max_delay`. The whole bound, not the next send's expected time: clients that
    /// are behind read each write at their cost too (on loopback the same cores), so fewer,
    /// fuller writes are what lets them catch up; and a full batch ends the hold early
    /// (`outbox::MAX_BATCH` frames or `HOLD_BYTES`), which bounds it at high rates.
    pub(crate) fn record(&self, now: Instant, max_delay: Duration) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let gap = now.saturating_duration_since(state.last.replace(now)?);
        let interval = state
            .interval
            .map_or(gap, |interval| (interval * 3 + gap) / 4);
        state.interval = Some(interval);
        if max_delay.is_zero() || gap > max_delay || interval > max_delay || state.behind <= BEHIND
        {
            return None;
        }
        Some(now + max_delay)
    }

    /// Records that the send just made found `behind` of its `clients` with frames still
    /// queued: their streams had not written the sends before yet.
    pub(crate) fn record_behind(&self, behind: usize, clients: usize) {
        if clients == 0 {
            return;
        }
        let share = u32::try_from(behind.min(clients) * 1000 / clients).unwrap_or(1000);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.behind = state.behind.midpoint(share);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_millis(40);

    /// A topic whose sends found every client behind for a while.
    fn behind() -> Pace {
        let pace = Pace::default();
        for _ in 0..4 {
            pace.record_behind(10, 10);
        }
        pace
    }

    #[test]
    fn a_first_send_or_one_after_a_pause_is_not_held() {
        let pace = behind();
        let start = Instant::now();
        assert_eq!(pace.record(start, MAX), None);
        assert_eq!(pace.record(start + Duration::from_secs(1), MAX), None);
    }

    #[test]
    fn frequent_sends_are_held_for_the_bound() {
        for gap in [4, 30] {
            let pace = behind();
            let start = Instant::now();
            pace.record(start, MAX);
            let at = start + Duration::from_millis(gap);
            assert_eq!(pace.record(at, MAX), Some(at + MAX), "{gap} ms apart");
        }
    }

    #[test]
    fn a_slowing_topic_stops_being_held_and_zero_never_holds() {
        let pace = behind();
        let mut at = Instant::now();
        pace.record(at, MAX);
        at += Duration::from_millis(2);
        assert!(pace.record(at, MAX).is_some());
        at += Duration::from_millis(50);
        assert_eq!(pace.record(at, MAX), None);
        at += Duration::from_millis(1);
        assert_eq!(pace.record(at, Duration::ZERO), None);
    }

    #[test]
    fn frequent_sends_whose_clients_keep_up_are_not_held() {
        let pace = Pace::default();
        let mut at = Instant::now();
        for _ in 0..10 {
            pace.record_behind(1, 10);
            assert_eq!(pace.record(at, MAX), None, "a tenth behind");
            at += Duration::from_millis(2);
        }
    }

    #[test]
    fn holding_starts_once_clients_fall_behind_and_ends_once_they_catch_up() {
        let pace = Pace::default();
        let mut at = Instant::now();
        pace.record(at, MAX);
        let mut held = Vec::new();
        for behind in [0, 10, 10, 10, 0, 0, 0, 0] {
            at += Duration::from_millis(2);
            held.push(pace.record(at, MAX).is_some());
            pace.record_behind(behind, 10);
        }
        // An average over the last sends, halved at each: one send that found them all behind
        // starts it, one that kept up after several behind does not end it (two in a row do).
        assert_eq!(held, [false, false, true, true, true, true, false, false]);
    }

    #[test]
    fn a_send_that_reached_nobody_changes_nothing() {
        let pace = behind();
        pace.record_behind(0, 0);
        let start = Instant::now();
        pace.record(start, MAX);
        assert!(pace.record(start + Duration::from_millis(2), MAX).is_some());
    }
}
