//! The examples' command line: `--addr HOST:PORT` (or `REALTIME_ADDR`), default
//! `127.0.0.1:8090`, and `--data-dir DIR` (or `REALTIME_DATA_DIR`), default `./data`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The address every example listens on unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8090";

/// Where an example listens and keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The listening address.
    pub addr: SocketAddr,
    /// The directory for the example's database.
    pub data_dir: PathBuf,
}

impl Options {
    /// Reads the command line and environment.
    ///
    /// # Errors
    ///
    /// A message for the user when an argument is unknown or a value is invalid.
    pub fn from_env(program: &str) -> Result<Self, String> {
        Self::parse(
            program,
            std::env::args().skip(1),
            std::env::var("REALTIME_ADDR").ok(),
            std::env::var("REALTIME_DATA_DIR").ok(),
        )
    }

    fn parse(
        program: &str,
        args: impl IntoIterator<Item = String>,
        env_addr: Option<String>,
        env_data_dir: Option<String>,
    ) -> Result<Self, String> {
        let usage = format!("usage: {program} [--addr HOST:PORT] [--data-dir DIR]");
        let mut flags = flags(args, &["--addr", "--data-dir"], &usage)?;
        let addr = flags
            .remove("--addr")
            .or(env_addr)
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        Ok(Self {
            addr: parse_addr(&addr)?,
            data_dir: PathBuf::from(
                flags
                    .remove("--data-dir")
                    .or(env_data_dir)
                    .unwrap_or_else(|| "data".to_owned()),
            ),
        })
    }
}

/// Reads `--name value` and `--name=value` flags, each one of `known` (a later one wins).
///
/// # Errors
///
/// A message ending in `usage` for an unknown flag, a flag without a value, or `--help`.
pub fn flags(
    args: impl IntoIterator<Item = String>,
    known: &[&str],
    usage: &str,
) -> Result<HashMap<String, String>, String> {
    let mut values = HashMap::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if key == "-h" || key == "--help" {
            return Err(usage.to_owned());
        }
        if !known.contains(&key.as_str()) {
            return Err(format!("unknown argument `{arg}`; {usage}"));
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("`{key}` needs a value; {usage}"))?;
        values.insert(key, value);
    }
    Ok(values)
}

/// Parses a listening address.
///
/// # Errors
///
/// A message for the user when `addr` is not `HOST:PORT`.
pub fn parse_addr(addr: &str) -> Result<SocketAddr, String> {
    addr.parse().map_err(|err| {
        format!("invalid address `{addr}` ({err}); expected HOST:PORT, e.g. {DEFAULT_ADDR}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Options, String> {
        Options::parse(
            "x",
            args.iter().map(|s| (*s).to_owned()),
            env.map(str::to_owned),
            None,
        )
    }

    #[test]
    fn flags_override_the_environment() {
        assert_eq!(parse(&[], None).unwrap().addr.to_string(), DEFAULT_ADDR);
        assert_eq!(parse(&[], Some("127.0.0.1:9")).unwrap().addr.port(), 9);
        assert_eq!(
            parse(&["--addr", "127.0.0.1:7"], Some("127.0.0.1:9"))
                .unwrap()
                .addr
                .port(),
            7
        );
        assert_eq!(parse(&["--addr=127.0.0.1:6"], None).unwrap().addr.port(), 6);
        let options = parse(&["--data-dir", "/tmp/x"], None).unwrap();
        assert_eq!(options.data_dir, PathBuf::from("/tmp/x"));
        assert!(
            parse(&["--addr"], None)
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse(&["--port", "1"], None)
                .unwrap_err()
                .contains("unknown argument")
        );
        assert!(
            parse(&["--addr", "nope"], None)
                .unwrap_err()
                .contains("invalid address")
        );
    }
}
