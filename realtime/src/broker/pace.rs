//! A topic's pace: how often it is sent to. While the server is busy (see `load`), it tells a
//! stream whether a frame is likely to have company soon, worth holding it back for so both
//! share one write, or not (a quiet topic's frame is written at once).

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
}

impl Pace {
    /// Records a send at `now` and says how long its frames may wait for the next send's to
    /// join them: `None` (write at once) unless the topic was sent to less than `max_delay`
    /// before, and is usually; otherwise one and a half usual intervals, at most `max_delay`.
    pub(crate) fn record(&self, now: Instant, max_delay: Duration) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let gap = now.saturating_duration_since(state.last.replace(now)?);
        let interval = state
            .interval
            .map_or(gap, |interval| (interval * 3 + gap) / 4);
        state.interval = Some(interval);
        if max_delay.is_zero() || gap > max_delay || interval > max_delay {
            return None;
        }
        Some(now + (interval * 3 / 2).min(max_delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_millis(40);

    #[test]
    fn a_first_send_or_one_after_a_pause_is_not_held() {
        let pace = Pace::default();
        let start = Instant::now();
        assert_eq!(pace.record(start, MAX), None);
        assert_eq!(pace.record(start + Duration::from_secs(1), MAX), None);
    }

    #[test]
    fn frequent_sends_are_held_one_and_a_half_intervals_at_most_the_bound() {
        let pace = Pace::default();
        let start = Instant::now();
        pace.record(start, MAX);
        let at = start + Duration::from_millis(4);
        assert_eq!(pace.record(at, MAX), Some(at + Duration::from_millis(6)));
        let pace = Pace::default();
        pace.record(start, MAX);
        let at = start + Duration::from_millis(30);
        assert_eq!(pace.record(at, MAX), Some(at + MAX));
    }

    #[test]
    fn a_slowing_topic_stops_being_held_and_zero_never_holds() {
        let pace = Pace::default();
        let mut at = Instant::now();
        pace.record(at, MAX);
        at += Duration::from_millis(2);
        assert!(pace.record(at, MAX).is_some());
        at += Duration::from_millis(50);
        assert_eq!(pace.record(at, MAX), None);
        at += Duration::from_millis(1);
        assert_eq!(pace.record(at, Duration::ZERO), None);
    }
}
