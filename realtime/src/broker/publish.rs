//! The broker's figures through the `metrics` facade (feature `metrics`), for whichever
//! exporter the application installs.
//!
//! Everything but the fan-out time is published from a [`Stats`] snapshot when the
//! application asks (typically on each scrape), so the hot path pays nothing for it: the
//! counters are set to their totals (`absolute`), the gauges to their values. Labels are a
//! stream's path, a status or a reason, never a topic: their number stays bounded.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use super::Realtime;
use super::stats::{DisconnectReason, Stats, StreamPath};

impl Realtime {
    /// Publishes [`Realtime::stats`] through the `metrics` facade, to the recorder installed
    /// then: call it before each scrape (or on a timer).
    ///
    /// Gauges `realtime_clients`, `realtime_streams{path}` (streams started on each path;
    /// `realtime_open_streams` counts those not started yet too), `realtime_topics`,
    /// `realtime_queued_bytes`; counters `realtime_connections_total{path}`,
    /// `realtime_subscriptions_total{status}`, `realtime_sends_total`,
    /// `realtime_deliveries_total`, `realtime_dropped_total{reason}`,
    /// `realtime_bytes_written_total`. The histogram `realtime_fan_out_seconds` (the time to
    /// queue one send for its recipients) is recorded by every send.
    pub fn publish_metrics(&self) {
        let stats = self.stats();
        publish(&stats);
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "gauges are floats; counts past 2^53 are not exact anyway"
)]
fn publish(stats: &Stats) {
    gauge!("realtime_clients").set(stats.clients as f64);
    gauge!("realtime_open_streams").set(stats.open_streams as f64);
    gauge!("realtime_topics").set(stats.topics as f64);
    gauge!("realtime_queued_bytes").set(stats.queued_bytes as f64);
    for path in [StreamPath::Hyper, StreamPath::Direct] {
        let label = path.as_str();
        gauge!("realtime_streams", "path" => label).set(stats.streams_by_path.get(path) as f64);
        counter!("realtime_connections_total", "path" => label)
            .absolute(stats.connections_by_path.get(path));
    }
    for (status, count) in &stats.subscriptions_by_status {
        counter!("realtime_subscriptions_total", "status" => status.to_string()).absolute(*count);
    }
    counter!("realtime_sends_total").absolute(stats.sends);
    counter!("realtime_deliveries_total").absolute(stats.deliveries);
    for reason in DisconnectReason::ALL {
        counter!("realtime_dropped_total", "reason" => reason.as_str())
            .absolute(stats.disconnects_for(reason));
    }
    counter!("realtime_bytes_written_total").absolute(stats.bytes_written);
}

/// Records how long one send took to fan out.
pub(super) fn fan_out_took(elapsed: Duration) {
    histogram!("realtime_fan_out_seconds").record(elapsed.as_secs_f64());
}
