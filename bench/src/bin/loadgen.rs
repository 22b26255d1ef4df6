//! The load generator. `loadgen --help` lists the flags; `bench/run.sh` shows them in use.
//!
//! Prints the report for people on stderr and one JSON line on stdout (appended to `--json FILE`
//! too). `loadgen table FILE...` turns such JSON lines into one markdown table. Exits 0 when
//! every message arrived exactly once and in order, 3 when the run finished but did not, 1 on
//! an error or the overall timeout.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum_realtime_bench::fd_limit;
use axum_realtime_bench::loadgen::{self, Config, Load, SendTo};
use axum_realtime_bench::report::{self, Report};

const USAGE: &str = "\
usage: loadgen [options]            run against a server (or several nodes), report
       loadgen table FILE...        one markdown table of the JSON lines in FILEs
       loadgen nodes-table FILE...  the scale-out table of the JSON lines in FILEs: CPU of the
                                    nodes and Redis per delivery, Redis commands per send

options:
  --addr HOST:PORT           the server, loopback only (or REALTIME_ADDR; default 127.0.0.1:8090);
                             repeated (or --addrs HOST:PORT,HOST:PORT...): the nodes of one
                             application, clients spread over them round-robin (client i on node i mod n)
  --send-to first|all        first (default): every send to the first server; all: publisher k sends to
                             server k mod n (each publisher keeps to one node, whose sends the engine orders)
  --server-pid PID           the server's process: its CPU time and memory are reported; repeated for
                             several servers: summed, and each one's CPU apart
  --redis-pid PID            the Redis server's process: its CPU time is reported, and counted per delivery
                             with the servers' in the nodes table
  --redis-addr HOST:PORT     the Redis server (loopback): its INFO commandstats before and after the sends
                             give the PUBLISHes and commands per send
  --label NAME               the server's name in the report (default: server)
  --scenario NAME            the scenario's name in the report (default: from the load)
  --connections N            event-stream clients, all on one topic unless --rooms (default 100)
  --messages M               burst: M messages in all, each publisher sending as fast as it can (default 100)
  --rate R --duration S      fixed rate instead: R deliveries per second (R / N sends per second) for S seconds
  --keys K                   keys instead: each client holds K distinct keys `<topic>?options=...`, and one
                             message is sent (to every key), while another client subscribes again and again
  --key-bytes B              the length of each of those keys (default 2400; at most 2500)
  --publishers K             concurrent publishers (per room with --rooms), each on its own connection (default 1)
  --topic T                  the topic (default bench)
  --rooms R                  split the clients evenly over R topics `<topic>-0`..`<topic>-<R-1>`, each with its
                             own --publishers and the load a single topic would give its clients: --messages M
                             to every room, --rate R keeps R / N sends per second per room (rooms staggered
                             within a send interval); latency is reported for the worst room too
  --payload-bytes B          pad each message with B bytes (default 0), to measure large payloads
  --connect-concurrency C    clients connecting at once (default 256)
  --subscribe-pool P         keep-alive connections for the subscription POSTs (default 8)
  --hold S                   seconds the clients stay idle before the sends; memory is read then (default 1)
  --drain-timeout S          seconds without progress before giving up on missing deliveries (default 10)
  --settle S                 seconds after closing every client before the server's memory is read again (default 2)
  --timeout S                the whole run's limit (default 600)
  --threads T                runtime threads (default 1: the load generator shares the cores with the server)
  --json FILE                also append the JSON line to FILE";

struct Args {
    config: Config,
    timeout: Duration,
    json: Option<String>,
}

/// The load before any flag: 100 clients, one publisher, a burst of 100 bare stamps.
fn defaults() -> Result<Config, String> {
    Ok(Config {
        addrs: vec![
            std::env::var("REALTIME_ADDR")
                .unwrap_or_else(|_| "127.0.0.1:8090".into())
                .parse()
                .map_err(|err| format!("REALTIME_ADDR: {err}"))?,
        ],
        send_to: SendTo::First,
        server_pids: Vec::new(),
        redis_pid: None,
        redis_addr: None,
        label: "server".into(),
        scenario: String::new(),
        connections: 100,
        publishers: 1,
        load: Load::Burst { messages: 100 },
        topic: "bench".into(),
        rooms: None,
        payload_bytes: 0,
        connect_concurrency: 256,
        subscribe_pool: 8,
        hold: Duration::from_secs(1),
        drain_timeout: Duration::from_secs(10),
        settle: Duration::from_secs(2),
        threads: 1,
    })
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut config = defaults()?;
    let (mut timeout, mut json) = (Duration::from_mins(10), None);
    let (mut rate, mut duration) = (None::<f64>, None::<f64>);
    let (mut keys, mut key_bytes) = (None::<usize>, 2400);
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        if matches!(key, "-h" | "--help") {
            return Err(USAGE.into());
        }
        let value = inline
            .or_else(|| iter.next().cloned())
            .ok_or_else(|| format!("`{key}` needs a value\n{USAGE}"))?;
        let bad = |err: &dyn std::fmt::Display| format!("`{key} {value}`: {err}");
        let secs = |v: &str| -> Result<Duration, String> {
            let s: f64 = v.parse().map_err(|err| bad(&err))?;
            Duration::try_from_secs_f64(s).map_err(|err| bad(&err))
        };
        match key {
            "--addr" | "--addrs" => addrs.extend(parse_addrs(&value).map_err(|err| bad(&err))?),
            "--send-to" => config.send_to = parse_send_to(&value).map_err(|err| bad(&err))?,
            "--server-pid" => config
                .server_pids
                .push(value.parse().map_err(|err| bad(&err))?),
            "--redis-pid" => config.redis_pid = Some(value.parse().map_err(|err| bad(&err))?),
            "--redis-addr" => {
                config.redis_addr = Some(value.parse().map_err(|err| bad(&err))?);
            }
            "--label" => config.label.clone_from(&value),
            "--scenario" => config.scenario.clone_from(&value),
            "--connections" => config.connections = value.parse().map_err(|err| bad(&err))?,
            "--messages" => {
                config.load = Load::Burst {
                    messages: value.parse().map_err(|err| bad(&err))?,
                };
            }
            "--rate" => rate = Some(value.parse().map_err(|err| bad(&err))?),
            "--duration" => duration = Some(value.parse().map_err(|err| bad(&err))?),
            "--keys" => keys = Some(value.parse().map_err(|err| bad(&err))?),
            "--key-bytes" => key_bytes = value.parse().map_err(|err| bad(&err))?,
            "--publishers" => config.publishers = value.parse().map_err(|err| bad(&err))?,
            "--topic" => config.topic.clone_from(&value),
            "--rooms" => config.rooms = Some(value.parse().map_err(|err| bad(&err))?),
            "--payload-bytes" => config.payload_bytes = value.parse().map_err(|err| bad(&err))?,
            "--connect-concurrency" => {
                config.connect_concurrency = value.parse().map_err(|err| bad(&err))?;
            }
            "--subscribe-pool" => config.subscribe_pool = value.parse().map_err(|err| bad(&err))?,
            "--hold" => config.hold = secs(&value)?,
            "--drain-timeout" => config.drain_timeout = secs(&value)?,
            "--settle" => config.settle = secs(&value)?,
            "--timeout" => timeout = secs(&value)?,
            "--threads" => config.threads = value.parse().map_err(|err| bad(&err))?,
            "--json" => json = Some(value),
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}")),
        }
    }
    if !addrs.is_empty() {
        config.addrs = addrs;
    }
    match (rate, duration) {
        (Some(r), Some(d)) => {
            config.load = Load::Rate {
                deliveries_per_s: r,
                duration: Duration::try_from_secs_f64(d)
                    .map_err(|err| format!("--duration: {err}"))?,
            };
        }
        (None, None) => {}
        _ => return Err("--rate and --duration go together".into()),
    }
    if let Some(per_client) = keys {
        if rate.is_some() {
            return Err("--keys sends one message: it takes no --rate".into());
        }
        config.load = Load::Keys {
            per_client,
            key_bytes,
        };
    }
    if config.publishers == 0 || config.threads == 0 || config.rooms == Some(0) {
        return Err("--publishers, --threads and --rooms must be at least 1".into());
    }
    if keys.is_some() && (config.rooms.is_some() || config.addrs.len() > 1) {
        return Err(
            "--keys sends on one topic of one server: it takes no --rooms, one --addr".into(),
        );
    }
    if config.scenario.is_empty() {
        config.scenario = default_scenario(&config);
    }
    Ok(Args {
        config,
        timeout,
        json,
    })
}

/// `HOST:PORT[,HOST:PORT...]`.
fn parse_addrs(value: &str) -> Result<Vec<SocketAddr>, String> {
    value
        .split(',')
        .map(|addr| {
            addr.trim()
                .parse()
                .map_err(|err| format!("`{addr}`: {err}"))
        })
        .collect()
}

fn parse_send_to(value: &str) -> Result<SendTo, String> {
    match value {
        "first" => Ok(SendTo::First),
        "all" => Ok(SendTo::All),
        _ => Err("expected `first` or `all`".into()),
    }
}

/// The scenario's name when `--scenario` is not given.
fn default_scenario(config: &Config) -> String {
    let load = load_name(config);
    match config.rooms {
        Some(rooms) => format!("rooms {rooms}: {load}"),
        None => load,
    }
}

fn load_name(config: &Config) -> String {
    match config.load {
        Load::Burst { messages } => format!("burst N={} M={messages}", config.connections),
        Load::Keys { per_client, .. } => format!("keys N={} K={per_client}", config.connections),
        Load::Rate {
            deliveries_per_s,
            duration,
        } => format!(
            "rate {deliveries_per_s}/s N={} {}s",
            config.connections,
            duration.as_secs_f64()
        ),
    }
}

fn table(files: &[String], render: fn(&[Report]) -> String) -> Result<(), String> {
    let mut reports = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|err| format!("{file}: {err}"))?;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let report: Report =
                serde_json::from_str(line).map_err(|err| format!("{file}: {err}"))?;
            reports.push(report);
        }
    }
    print!("{}", render(&reports));
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let render: Option<fn(&[Report]) -> String> = match args.first().map(String::as_str) {
        Some("table") => Some(report::table),
        Some("nodes-table") => Some(report::nodes_table),
        _ => None,
    };
    if let Some(render) = render {
        if let Err(err) = table(&args[1..], render) {
            eprintln!("loadgen: {err}");
            std::process::exit(1);
        }
        return;
    }
    let Args {
        config,
        timeout,
        json,
    } = match parse_args(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let publishers = config.publishers * config.rooms.unwrap_or(1);
    fd_limit::raise_fd_limit(
        (config.connections + publishers + config.subscribe_pool) as u64 + 100,
    );
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loadgen: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    let outcome =
        runtime.block_on(async { tokio::time::timeout(timeout, loadgen::run(&config)).await });
    let report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(err)) => {
            eprintln!("loadgen: {} / {}: {err}", config.label, config.scenario);
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!(
                "loadgen: {} / {}: gave up after {} s (--timeout)",
                config.label,
                config.scenario,
                timeout.as_secs_f64()
            );
            std::process::exit(1);
        }
    };
    eprintln!("{}", report.human());
    let line = report.to_json();
    println!("{line}");
    if let Some(file) = json {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(err) = appended {
            eprintln!("loadgen: cannot append to {file}: {err}");
        }
    }
    // The clients' tasks are still reading: end the process rather than wait for them.
    std::process::exit(if report.exactly_once_in_order { 0 } else { 3 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse_args(&args).map(|args| args.config)
    }

    fn port_list(config: &Config) -> Vec<u16> {
        config.addrs.iter().map(SocketAddr::port).collect()
    }

    #[test]
    fn several_servers_repeated_or_in_a_list() {
        let one = parse(&["--addr", "127.0.0.1:7"]).unwrap();
        assert_eq!(port_list(&one), [7]);
        let repeated = parse(&["--addr", "127.0.0.1:7", "--addr=127.0.0.1:8"]).unwrap();
        assert_eq!(port_list(&repeated), [7, 8]);
        let listed = parse(&["--addrs", "127.0.0.1:7, 127.0.0.1:8", "--addr", "[::1]:9"]).unwrap();
        assert_eq!(port_list(&listed), [7, 8, 9]);
        assert_eq!(listed.send_to, SendTo::First);
        assert!(
            parse(&["--addrs", "127.0.0.1:7,"])
                .unwrap_err()
                .contains("`--addrs 127.0.0.1:7,`")
        );
        assert!(parse(&["--addrs", "127.0.0.1:7,nope"]).is_err());
        assert_eq!(parse_addrs("127.0.0.1:1").unwrap().len(), 1);
    }

    #[test]
    fn pids_redis_and_where_sends_go() {
        let config = parse(&[
            "--server-pid",
            "10",
            "--server-pid=11",
            "--redis-pid",
            "12",
            "--redis-addr",
            "127.0.0.1:6379",
            "--send-to",
            "all",
        ])
        .unwrap();
        assert_eq!(config.server_pids, [10, 11]);
        assert_eq!(config.redis_pid, Some(12));
        assert_eq!(config.redis_addr.map(|a| a.port()), Some(6379));
        assert_eq!(config.send_to, SendTo::All);
        assert!(parse(&["--send-to", "each"]).is_err());
        assert!(parse(&["--redis-addr", "localhost"]).is_err());
        assert!(
            parse(&["--addrs", "127.0.0.1:7,127.0.0.1:8", "--keys", "4"])
                .unwrap_err()
                .contains("one server")
        );
    }
}
