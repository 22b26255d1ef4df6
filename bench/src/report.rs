//! A run's figures: one JSON line for machines, a few lines for people, and the markdown table
//! that puts several runs side by side.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::histogram::Histogram;
use crate::procfs::StealReading;

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The server's name (`realtime`, `pocketbase`).
    pub label: String,
    /// The scenario's name.
    pub scenario: String,
    /// `burst` or `rate`.
    pub mode: String,
    /// Event-stream clients, all subscribed to the topic.
    pub connections: usize,
    /// The servers the clients were spread over: the nodes of one application (0 in reports
    /// from before there could be several).
    #[serde(default)]
    pub servers: usize,
    /// Concurrent publishers.
    pub publishers: usize,
    /// Messages sent in all.
    pub messages: u64,
    /// Rate mode: the deliveries per second asked for.
    pub target_deliveries_per_s: Option<f64>,
    /// Rate mode: how late the latest send started, in milliseconds.
    pub max_send_lag_ms: Option<f64>,
    /// Deliveries owed: connections × messages.
    pub expected: u64,
    /// The sum of the servers' `reached` answers (with several nodes, each counts only the
    /// clients of the node the send went to).
    pub reached: u64,
    /// Topic events the clients read (duplicates included).
    pub delivered: u64,
    /// Seconds to connect and subscribe every client.
    pub connect_s: f64,
    /// Seconds from the first send to the last delivery.
    pub duration_s: f64,
    /// `delivered / duration_s`.
    pub deliveries_per_s: f64,
    /// Sends per second achieved (all publishers).
    pub sends_per_s: f64,
    /// Send-to-read latency, median, microseconds.
    pub latency_p50_us: f64,
    /// Send-to-read latency, 99th percentile, microseconds.
    pub latency_p99_us: f64,
    /// Send-to-read latency, maximum, microseconds.
    pub latency_max_us: f64,
    /// The server's CPU time (user + system) from the first send to the last delivery; with
    /// several servers, their sum (Redis's is apart, [`Report::redis_cpu_s`]).
    pub server_cpu_s: Option<f64>,
    /// `server_cpu_s` per delivery, microseconds.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// With several servers, each one's CPU time over the same window, in the order of their
    /// addresses (the first is the one sent to), seconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_cpu_s: Vec<f64>,
    /// The Redis server's CPU time over the same window, seconds.
    #[serde(default)]
    pub redis_cpu_s: Option<f64>,
    /// Redis `PUBLISH` calls per send over the same window (`INFO commandstats`).
    #[serde(default)]
    pub redis_publishes_per_send: Option<f64>,
    /// Every Redis command per send over the same window, the load generator's own `INFO`
    /// left out.
    #[serde(default)]
    pub redis_commands_per_send: Option<f64>,
    /// The server's resident memory before any client connected, KiB (summed over servers).
    pub server_rss_base_kib: Option<u64>,
    /// The server's resident memory with every client connected and idle, KiB (summed).
    pub server_rss_idle_kib: Option<u64>,
    /// `(idle - base) / connections`, KiB.
    pub server_kib_per_idle_conn: Option<f64>,
    /// The server's resident memory once every client had left (read after `--settle`), KiB.
    #[serde(default)]
    pub server_rss_after_kib: Option<u64>,
    /// This load generator's own CPU time over the same window, seconds: it shares the cores.
    pub loadgen_cpu_s: f64,
    /// This load generator's runtime threads.
    pub loadgen_threads: usize,
    /// The share of the machine's cores, in percent, that the hypervisor gave to other
    /// machines over the same window (steal time): the run measured a slower machine by that
    /// much, and in bursts (`bench/run.sh` measures such a run again).
    #[serde(default)]
    pub stolen_pct: Option<f64>,
    /// Messages some client never received (summed over clients).
    pub lost: u64,
    /// Messages a client received more than once.
    pub duplicated: u64,
    /// Messages a client received after a later one of the same publisher.
    pub out_of_order: u64,
    /// Topic events whose data was not a message of this run (or, with rooms, of the client's
    /// room).
    pub malformed: u64,
    /// Clients whose stream ended or failed.
    pub disconnected: u64,
    /// Sends that failed or were not answered `200 {"reached": N}`.
    pub send_errors: u64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Every client received every message exactly once and in order, and nothing failed.
    pub exactly_once_in_order: bool,
    /// Keys scenario: the distinct keys each client holds.
    #[serde(default)]
    pub keys_per_client: Option<usize>,
    /// Keys scenario: the length of each key, bytes.
    #[serde(default)]
    pub key_bytes: Option<usize>,
    /// Keys scenario: the send's round trip, milliseconds.
    #[serde(default)]
    pub send_ms: Option<f64>,
    /// Keys scenario: the longest subscribe of another client while the send ran, milliseconds.
    #[serde(default)]
    pub subscribe_wait_ms: Option<f64>,
    /// Keys scenario: how many subscribes that client made while the send ran.
    #[serde(default)]
    pub subscribe_probes: Option<u64>,
    /// Keys scenario: the median of that client's subscribes before the send, milliseconds.
    #[serde(default)]
    pub subscribe_idle_ms: Option<f64>,
    /// Rooms: how many topics the clients were split over (absent: one topic).
    #[serde(default)]
    pub rooms: Option<usize>,
    /// Rooms: the highest median latency of any room, microseconds.
    #[serde(default)]
    pub worst_room_p50_us: Option<f64>,
    /// Rooms: the highest 99th percentile of any room, microseconds.
    #[serde(default)]
    pub worst_room_p99_us: Option<f64>,
    /// Rooms: the lowest 99th percentile of any room, microseconds.
    #[serde(default)]
    pub best_room_p99_us: Option<f64>,
}

impl Report {
    /// An empty report for `label` and `scenario`.
    #[must_use]
    pub fn new(label: &str, scenario: &str) -> Self {
        Self {
            label: label.to_owned(),
            scenario: scenario.to_owned(),
            ..Self::default()
        }
    }

    /// The report as one line of JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The CPU time of the servers and Redis together per delivery, microseconds: what one
    /// delivery costs the whole deployment. `None` when the servers' CPU is unknown.
    #[must_use]
    pub fn deployment_cpu_us_per_delivery(&self) -> Option<f64> {
        let cpu = self.server_cpu_s? + self.redis_cpu_s.unwrap_or(0.0);
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^53")]
        (self.delivered > 0).then(|| cpu * 1e6 / self.delivered as f64)
    }

    /// The servers' and Redis's part of [`Report::human`], when there were several servers or
    /// a Redis server.
    fn nodes_line(&self) -> Option<String> {
        if self.servers <= 1 && self.redis_cpu_s.is_none() {
            return None;
        }
        let each: Vec<String> = self.node_cpu_s.iter().map(|s| format!("{s:.2}")).collect();
        Some(format!(
            "  {} server(s){}; Redis {} CPU s; servers and Redis {} µs CPU per delivery; Redis per send: {} PUBLISH, {} commands",
            self.servers,
            if each.is_empty() {
                String::new()
            } else {
                format!(" ({} CPU s each)", each.join(", "))
            },
            opt(self.redis_cpu_s, 2),
            opt(self.deployment_cpu_us_per_delivery(), 2),
            opt(self.redis_publishes_per_send, 3),
            opt(self.redis_commands_per_send, 3)
        ))
    }

    /// The report for people.
    #[must_use]
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} / {}: {} connections (connected and subscribed in {:.2} s), {} publisher(s), {} messages ({})",
            self.label,
            self.scenario,
            self.connections,
            self.connect_s,
            self.publishers,
            self.messages,
            self.mode
        );
        let _ = writeln!(
            out,
            "  delivered {} of {} ({} reached) in {:.3} s: {:.0} deliveries/s, {:.1} sends/s{}",
            self.delivered,
            self.expected,
            self.reached,
            self.duration_s,
            self.deliveries_per_s,
            self.sends_per_s,
            self.max_send_lag_ms
                .map(|lag| format!(" (latest send {lag:.1} ms behind schedule)"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  latency p50 {} µs, p99 {} µs, max {} µs",
            round(self.latency_p50_us),
            round(self.latency_p99_us),
            round(self.latency_max_us)
        );
        let _ = writeln!(
            out,
            "  server: {} CPU s, {} µs CPU per delivery; RSS {} KiB idle with every client, {} KiB before: {} KiB per idle connection",
            opt(self.server_cpu_s, 2),
            opt(self.server_cpu_us_per_delivery, 2),
            self.server_rss_idle_kib
                .map_or("?".into(), |v| v.to_string()),
            self.server_rss_base_kib
                .map_or("?".into(), |v| v.to_string()),
            opt(self.server_kib_per_idle_conn, 1)
        );
        if let Some(nodes) = self.nodes_line() {
            let _ = writeln!(out, "{nodes}");
        }
        if let (Some(keys), Some(send), Some(idle)) =
            (self.keys_per_client, self.send_ms, self.subscribe_idle_ms)
        {
            let _ = writeln!(
                out,
                "  keys: {keys} per client; the send took {send:.1} ms; another client's subscribe took {} ms at most while it ran ({} tries), {idle:.2} ms when idle",
                opt(self.subscribe_wait_ms, 2),
                self.subscribe_probes.unwrap_or(0)
            );
        }
        if let (Some(rooms), Some(p50), Some(p99), Some(best)) = (
            self.rooms,
            self.worst_room_p50_us,
            self.worst_room_p99_us,
            self.best_room_p99_us,
        ) {
            let _ = writeln!(
                out,
                "  rooms: {rooms}; the worst room's p50 {} µs, p99 {} µs (the best room's p99 {} µs)",
                round(p50),
                round(p99),
                round(best)
            );
        }
        if let Some(after) = self.server_rss_after_kib {
            let _ = writeln!(out, "  server RSS once every client had left: {after} KiB");
        }
        self.write_machine(&mut out);
        let _ = write!(
            out,
            "  exactly once and in order: {} (lost {}, duplicated {}, out of order {}, malformed {}, disconnected {}, send errors {})",
            if self.exactly_once_in_order {
                "yes"
            } else {
                "NO"
            },
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.malformed,
            self.disconnected,
            self.send_errors
        );
        if let Some(err) = &self.first_error {
            let _ = write!(out, "\n  first error: {err}");
        }
        out
    }

    /// The lines of [`Report::human`] on what else used the cores: the load generator, and
    /// the hypervisor.
    fn write_machine(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "  load generator: {:.2} CPU s on {} thread(s) in the same window (it shares the cores with the server)",
            self.loadgen_cpu_s, self.loadgen_threads
        );
        if let Some(stolen) = self.stolen_pct {
            let _ = writeln!(
                out,
                "  taken by the hypervisor (steal): {stolen:.1} % of the cores' time in that window"
            );
        }
    }
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "?".into(), |v| format!("{v:.digits$}"))
}

fn round(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn thousands(value: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rate, rounded for display"
    )]
    let digits = (value.max(0.0).round() as u64).to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The markdown tables of several runs: [`throughput_table`] of the delivery scenarios, then
/// [`rooms_table`] of the rooms scenarios and [`keys_table`] of the keys scenarios, if any
/// ran.
#[must_use]
pub fn table(reports: &[Report]) -> String {
    let (keys, throughput): (Vec<Report>, Vec<Report>) = reports
        .iter()
        .cloned()
        .partition(|r| r.keys_per_client.is_some());
    let rooms: Vec<Report> = throughput
        .iter()
        .filter(|r| r.rooms.is_some())
        .cloned()
        .collect();
    let mut out = String::new();
    if !throughput.is_empty() {
        out.push_str(&throughput_table(&throughput));
    }
    if !rooms.is_empty() {
        out.push_str(
            "\nEach room's own latency (the rows above pool every room's deliveries):\n\n",
        );
        out.push_str(&rooms_table(&rooms));
    }
    if !keys.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(
            "One send to clients holding many distinct keys each, while another client subscribes again and again:\n\n",
        );
        out.push_str(&keys_table(&keys));
    }
    out
}

/// Rows of the runs, in their order: the runs of one scenario against different servers next
/// to each other. Repeated runs of one scenario against one server make one row, the run that
/// `rank` puts in the middle, with how many there were.
fn rows(
    reports: &[Report],
    rank: impl Fn(&Report, &Report) -> std::cmp::Ordering,
) -> Vec<(&Report, usize)> {
    let mut scenarios: Vec<&str> = Vec::new();
    for report in reports {
        if !scenarios.contains(&report.scenario.as_str()) {
            scenarios.push(&report.scenario);
        }
    }
    let mut rows: Vec<(&Report, usize)> = Vec::new();
    for &scenario in &scenarios {
        let mut labels: Vec<&str> = Vec::new();
        for report in reports.iter().filter(|r| r.scenario == scenario) {
            if !labels.contains(&report.label.as_str()) {
                labels.push(&report.label);
            }
        }
        for label in labels {
            let mut runs: Vec<&Report> = reports
                .iter()
                .filter(|r| r.scenario == scenario && r.label == label)
                .collect();
            runs.sort_by(|a, b| rank(a, b));
            rows.push((runs[runs.len() / 2], runs.len()));
        }
    }
    rows
}

fn server_label(r: &Report, runs: usize) -> String {
    if runs > 1 {
        format!("{} (median of {runs})", r.label)
    } else {
        r.label.clone()
    }
}

/// A markdown table of delivery runs; repeated runs make one row, the run of median throughput.
#[must_use]
pub fn throughput_table(reports: &[Report]) -> String {
    let rows = rows(reports, |a, b| {
        a.deliveries_per_s.total_cmp(&b.deliveries_per_s)
    });
    let mut out = String::from(
        "| scenario | server | conns | msgs | deliveries/s | p50 µs | p99 µs | max µs | server CPU µs/delivery | server KiB/idle conn | server RSS KiB: before, with clients, after | loadgen CPU s | stolen % | exactly once, in order |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for (r, runs) in rows {
        let label = server_label(r, runs);
        let check = if r.exactly_once_in_order {
            "yes".to_owned()
        } else {
            format!(
                "**no**: lost {}, dup {}, disorder {}, disconnected {}, send errors {}",
                r.lost, r.duplicated, r.out_of_order, r.disconnected, r.send_errors
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            r.scenario,
            label,
            r.connections,
            r.messages,
            thousands(r.deliveries_per_s),
            round(r.latency_p50_us),
            round(r.latency_p99_us),
            round(r.latency_max_us),
            opt(r.server_cpu_us_per_delivery, 2),
            opt(r.server_kib_per_idle_conn, 1),
            rss_trio(r),
            r.loadgen_cpu_s,
            opt(r.stolen_pct, 1),
            check
        );
    }
    out
}

/// A markdown table of rooms runs: the worst room's latency; repeated runs make one row, the
/// run of median worst-room p99.
#[must_use]
pub fn rooms_table(reports: &[Report]) -> String {
    let worst = |r: &Report| r.worst_room_p99_us.unwrap_or(f64::INFINITY);
    let rows = rows(reports, |a, b| worst(a).total_cmp(&worst(b)));
    let mut out = String::from(
        "| scenario | server | rooms × clients | sends/s per room | worst room p50 µs | worst room p99 µs | best room p99 µs | exactly once, in order |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for (r, runs) in rows {
        let rooms = r.rooms.unwrap_or(1).max(1);
        #[allow(clippy::cast_precision_loss, reason = "counts of a benchmark")]
        let sends_per_room = r.sends_per_s / rooms as f64;
        let _ = writeln!(
            out,
            "| {} | {} | {rooms} × {} | {sends_per_room:.1} | {} | {} | {} | {} |",
            r.scenario,
            server_label(r, runs),
            r.connections / rooms,
            opt(r.worst_room_p50_us, 0),
            opt(r.worst_room_p99_us, 0),
            opt(r.best_room_p99_us, 0),
            if r.exactly_once_in_order {
                "yes"
            } else {
                "**no**"
            }
        );
    }
    out
}

/// A markdown table of keys runs (one send to clients holding many keys each); repeated runs
/// make one row, the run of median send time.
#[must_use]
pub fn keys_table(reports: &[Report]) -> String {
    let send = |r: &Report| r.send_ms.unwrap_or(f64::INFINITY);
    let rows = rows(reports, |a, b| send(a).total_cmp(&send(b)));
    let mut out = String::from(
        "| scenario | server | clients × keys (bytes each) | send ms | another client's subscribe during the send: longest ms (tries) | that subscribe idle ms | server CPU s | last delivery ms | exactly once |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for (r, runs) in rows {
        let check = if r.exactly_once_in_order {
            "yes".to_owned()
        } else {
            format!(
                "**no**: lost {}, dup {}, disconnected {}, send errors {}",
                r.lost, r.duplicated, r.disconnected, r.send_errors
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} × {} ({}) | {} | {} ({}) | {} | {} | {} | {} |",
            r.scenario,
            server_label(r, runs),
            r.connections,
            r.keys_per_client.unwrap_or(0),
            r.key_bytes.unwrap_or(0),
            opt(r.send_ms, 1),
            opt(r.subscribe_wait_ms, 2),
            r.subscribe_probes.unwrap_or(0),
            opt(r.subscribe_idle_ms, 2),
            opt(r.server_cpu_s, 2),
            round(r.duration_s * 1e3),
            check
        );
    }
    out
}

/// A markdown table of one application on one node or several, with Redis or without: what
/// a delivery costs the whole deployment, and what each send costs Redis. Repeated runs make
/// one row, the run of median throughput.
#[must_use]
pub fn nodes_table(reports: &[Report]) -> String {
    let rows = rows(reports, |a, b| {
        a.deliveries_per_s.total_cmp(&b.deliveries_per_s)
    });
    let mut out = String::from(
        "| scenario | setup | deliveries/s | p50 µs | p99 µs | CPU µs/delivery, nodes + Redis | nodes' CPU s (each) | Redis CPU s | Redis PUBLISH per send | Redis commands per send | stolen % | exactly once, in order |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for (r, runs) in rows {
        let nodes = if r.node_cpu_s.is_empty() {
            opt(r.server_cpu_s, 2)
        } else {
            r.node_cpu_s
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let check = if r.exactly_once_in_order {
            "yes".to_owned()
        } else {
            format!(
                "**no**: lost {}, dup {}, disorder {}, disconnected {}, send errors {}",
                r.lost, r.duplicated, r.out_of_order, r.disconnected, r.send_errors
            )
        };
        let dash = |value: Option<f64>, digits: usize| {
            value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {nodes} | {} | {} | {} | {} | {check} |",
            r.scenario,
            server_label(r, runs),
            thousands(r.deliveries_per_s),
            round(r.latency_p50_us),
            round(r.latency_p99_us),
            opt(r.deployment_cpu_us_per_delivery(), 2),
            dash(r.redis_cpu_s, 2),
            dash(r.redis_publishes_per_send, 3),
            dash(r.redis_commands_per_send, 3),
            dash(r.stolen_pct, 1),
        );
    }
    out
}

/// `before, with clients, after` resident memory, or `-` where unknown.
fn rss_trio(r: &Report) -> String {
    #[allow(clippy::cast_precision_loss, reason = "KiB of one process fit 52 bits")]
    let kib = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| thousands(v as f64));
    format!(
        "{}, {}, {}",
        kib(r.server_rss_base_kib),
        kib(r.server_rss_idle_kib),
        kib(r.server_rss_after_kib)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_table() {
        let mut a = Report::new("realtime", "burst N=10");
        a.deliveries_per_s = 1_234_567.4;
        a.exactly_once_in_order = true;
        let b = Report::new("pocketbase", "burst N=10");
        let parsed: Report = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(parsed, a);
        a.server_rss_base_kib = Some(3_500);
        a.server_rss_idle_kib = Some(27_000);
        a.server_rss_after_kib = Some(26_500);
        a.stolen_pct = Some(2.25);
        let table = table(&[a.clone(), b]);
        assert!(
            table.contains("| burst N=10 | realtime | 0 | 0 | 1,234,567 |"),
            "{table}"
        );
        assert!(table.contains("| 3,500, 27,000, 26,500 |"), "{table}");
        assert!(
            table.contains("| 0.00 | 2.2 | yes |"),
            "steal shown: {table}"
        );
        assert!(
            table.contains("| 0.00 | ? | **no**"),
            "unknown steal: {table}"
        );
        assert!(table.contains("| pocketbase |"));
        assert_eq!(thousands(999.0), "999");
        let mut k = Report::new("realtime", "keys N=16 K=1000");
        k.keys_per_client = Some(1000);
        k.key_bytes = Some(2400);
        k.connections = 16;
        k.send_ms = Some(41.26);
        k.subscribe_wait_ms = Some(0.5);
        k.subscribe_probes = Some(30);
        let both = super::table(&[a, k]);
        let (throughput, keys) = both
            .split_once("\nOne send to clients holding many distinct keys each")
            .expect("two tables");
        assert!(throughput.contains("| burst N=10 | realtime |"), "{both}");
        assert!(!throughput.contains("keys N=16"), "{both}");
        assert!(
            keys.contains("| keys N=16 K=1000 | realtime | 16 × 1000 (2400) | 41.3 | 0.50 (30) |"),
            "{both}"
        );
        assert_eq!(thousands(1000.0), "1,000");
    }

    #[test]
    fn nodes_table_counts_redis_in_the_cpu() {
        let mut one = Report::new("1 node", "burst N=10 M=10");
        one.delivered = 100;
        one.exactly_once_in_order = true;
        one.record_usage(
            Usage {
                server_cpu: Some((vec![Duration::ZERO], vec![Duration::from_millis(2)])),
                ..Usage::default()
            },
            10,
            1,
        );
        assert!(one.node_cpu_s.is_empty());
        let mut two = Report::new("2 nodes + Redis", "burst N=10 M=10");
        two.servers = 2;
        two.delivered = 100;
        two.exactly_once_in_order = true;
        two.redis_publishes_per_send = Some(1.0);
        two.redis_commands_per_send = Some(1.02);
        two.stolen_pct = Some(0.5);
        two.record_usage(
            Usage {
                server_cpu: Some((
                    vec![Duration::from_secs(1), Duration::from_secs(5)],
                    vec![Duration::from_millis(1_020), Duration::from_millis(5_010)],
                )),
                redis_cpu: Some((Duration::from_secs(7), Duration::from_millis(7_010))),
                ..Usage::default()
            },
            10,
            1,
        );
        assert_eq!(two.node_cpu_s, [0.02, 0.01]);
        // Nodes 30 ms + Redis 10 ms over 100 deliveries.
        let cpu = two.deployment_cpu_us_per_delivery().unwrap();
        assert!((cpu - 400.0).abs() < 1e-6, "{cpu}");
        let parsed: Report = serde_json::from_str(&two.to_json()).unwrap();
        assert_eq!(parsed, two);
        let table = nodes_table(&[one, two]);
        assert!(
            table.contains(
                "| burst N=10 M=10 | 1 node | 0 | 0.0 | 0.0 | 20.00 | 0.00 | - | - | - | - | yes |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| 2 nodes + Redis | 0 | 0.0 | 0.0 | 400.00 | 0.02 + 0.01 | 0.01 | 1.000 | 1.020 | 0.5 | yes |"),
            "{table}"
        );
    }

    #[test]
    fn rooms_get_a_table_of_their_own() {
        let mut a = Report::new("realtime", "rooms 2×5");
        a.connections = 10;
        a.sends_per_s = 50.0;
        a.exactly_once_in_order = true;
        let mut slow = Histogram::new();
        let mut fast = Histogram::new();
        for _ in 0..100 {
            slow.record(9_000_000);
            fast.record(1_000_000);
        }
        a.record_rooms(&[fast, slow]);
        assert_eq!(a.rooms, Some(2));
        let parsed: Report = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(parsed, a);
        let table = table(&[a, Report::new("pocketbase", "burst N=10")]);
        let (throughput, rooms) = table
            .split_once("Each room's own latency")
            .expect("a rooms table");
        assert!(throughput.contains("| rooms 2×5 | realtime |"), "{table}");
        assert!(
            throughput.contains("| burst N=10 | pocketbase |"),
            "{table}"
        );
        assert!(
            rooms.contains("| rooms 2×5 | realtime | 2 × 5 | 25.0 | 9000 | 9000 | 1000 | yes |"),
            "{table}"
        );
        assert!(!rooms.contains("burst N=10"), "{table}");
    }
}

/// What the load generator read off the server and itself around a run, each as a before and
/// after pair (`None` where it could not read it).
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Each server's CPU time before and after the load (one entry per server, in order).
    pub server_cpu: Option<(Vec<Duration>, Vec<Duration>)>,
    /// The Redis server's CPU time before and after the load.
    pub redis_cpu: Option<(Duration, Duration)>,
    /// The server's resident memory (bytes) before any client and with every client idle.
    pub server_rss: Option<(u64, u64)>,
    /// The load generator's own CPU time before and after.
    pub own_cpu: Option<(Duration, Duration)>,
    /// The machine's steal time before and after.
    pub stolen: Option<(StealReading, StealReading)>,
}

impl Report {
    /// Records the latency quantiles of `latencies` (nanoseconds) in microseconds.
    #[allow(clippy::cast_precision_loss, reason = "microseconds of a benchmark")]
    pub fn record_latencies(&mut self, latencies: &Histogram) {
        self.latency_p50_us = latencies.quantile(0.5) as f64 / 1e3;
        self.latency_p99_us = latencies.quantile(0.99) as f64 / 1e3;
        self.latency_max_us = latencies.max() as f64 / 1e3;
    }

    /// Records each room's latency quantiles: the worst p50 and p99, and the best p99.
    #[allow(clippy::cast_precision_loss, reason = "microseconds of a benchmark")]
    pub fn record_rooms(&mut self, rooms: &[Histogram]) {
        let us = |h: &Histogram, q| h.quantile(q) as f64 / 1e3;
        let fold = |q, pick: fn(f64, f64) -> f64| rooms.iter().map(|h| us(h, q)).reduce(pick);
        self.rooms = Some(rooms.len());
        self.worst_room_p50_us = fold(0.5, f64::max);
        self.worst_room_p99_us = fold(0.99, f64::max);
        self.best_room_p99_us = fold(0.99, f64::min);
    }

    /// Records the server's CPU per delivery and memory per idle connection (of
    /// `connections`), and the load generator's own CPU on `threads` threads.
    #[allow(clippy::cast_precision_loss, reason = "figures of a benchmark")]
    pub fn record_usage(&mut self, usage: Usage, connections: usize, threads: usize) {
        if let Some((before, after)) = usage.server_cpu {
            let each: Vec<Duration> = after
                .iter()
                .zip(&before)
                .map(|(after, before)| after.saturating_sub(*before))
                .collect();
            let used: Duration = each.iter().sum();
            self.server_cpu_s = Some(used.as_secs_f64());
            if self.delivered > 0 {
                self.server_cpu_us_per_delivery =
                    Some(used.as_secs_f64() * 1e6 / self.delivered as f64);
            }
            if each.len() > 1 {
                self.node_cpu_s = each.iter().map(Duration::as_secs_f64).collect();
            }
        }
        if let Some((before, after)) = usage.redis_cpu {
            self.redis_cpu_s = Some(after.saturating_sub(before).as_secs_f64());
        }
        if let Some((base, idle)) = usage.server_rss {
            self.server_rss_base_kib = Some(base / 1024);
            self.server_rss_idle_kib = Some(idle / 1024);
            if connections > 0 {
                self.server_kib_per_idle_conn =
                    Some((idle as f64 - base as f64) / 1024.0 / connections as f64);
            }
        }
        if let Some((before, after)) = usage.own_cpu {
            self.loadgen_cpu_s = after.saturating_sub(before).as_secs_f64();
        }
        self.loadgen_threads = threads;
        if let Some(stolen) = usage
            .stolen
            .and_then(|(before, after)| after.percent_since(&before))
        {
            self.stolen_pct = Some(stolen);
        }
    }
}
