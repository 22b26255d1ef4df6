//! The examples' command line: `--addr HOST:PORT` (or `REALTIME_ADDR`), default
//! `127.0.0.1:8090`, `--data-dir DIR` (or `REALTIME_DATA_DIR`), default `./data`,
//! `--redis URL` (or `REALTIME_REDIS_URL`), default none, and for a deployment behind a
//! reverse proxy `--trusted-proxies LIST` (or `REALTIME_TRUSTED_PROXIES`: addresses and
//! networks, comma-separated) and `--secure-cookie true|false` (or `REALTIME_SECURE_COOKIE`);
//! to serve HTTPS (and HTTP/2) without a proxy, `--tls-cert FILE --tls-key FILE` (or
//! `REALTIME_TLS_CERT`, `REALTIME_TLS_KEY`), or `--tls-self-signed true` for local use.

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
    /// The Redis server that joins instances into one (`redis://HOST:PORT`), or `None` for
    /// a process on its own. An empty value counts as none. Not checked here: the Redis
    /// engine parses it.
    pub redis_url: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// as written); empty: none, the socket's peer is the client. Checked by the broker.
    pub trusted_proxies: Vec<String>,
    /// Whether the auth cookie is marked `Secure`: browsers reach the site over HTTPS.
    pub secure_cookie: bool,
    /// Where the server's TLS certificate comes from, when it serves HTTPS itself.
    pub tls: Option<TlsSource>,
}

/// Where an example's TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// A certificate chain and its private key, PEM files.
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A certificate generated at start for `localhost` and the loopback addresses: browsers
    /// warn about it; for local development.
    SelfSigned,
}

impl Options {
    /// Reads the command line and environment.
    ///
    /// # Errors
    ///
    /// A message for the user when an argument is unknown or a value is invalid.
    pub fn from_env(program: &str) -> Result<Self, String> {
        Self::parse(program, std::env::args().skip(1), |name| {
            std::env::var(name).ok()
        })
    }

    /// Reads `args`, falling back on the variables `env` returns.
    fn parse(
        program: &str,
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let usage = format!(
            "usage: {program} [--addr HOST:PORT] [--data-dir DIR] [--redis URL] \
             [--trusted-proxies LIST] [--secure-cookie true|false] \
             [--tls-cert FILE --tls-key FILE | --tls-self-signed true|false]"
        );
        let mut flags = flags(
            args,
            &[
                "--addr",
                "--data-dir",
                "--redis",
                "--trusted-proxies",
                "--secure-cookie",
                "--tls-cert",
                "--tls-key",
                "--tls-self-signed",
            ],
            &usage,
        )?;
        let mut value = |flag: &str, var: &str| flags.remove(flag).or_else(|| env(var));
        let addr = value("--addr", "REALTIME_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let data_dir =
            value("--data-dir", "REALTIME_DATA_DIR").unwrap_or_else(|| "data".to_owned());
        let redis_url = value("--redis", "REALTIME_REDIS_URL").filter(|url| !url.is_empty());
        let trusted_proxies = value("--trusted-proxies", "REALTIME_TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let secure_cookie = match value("--secure-cookie", "REALTIME_SECURE_COOKIE").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "`--secure-cookie` is true or false, not `{other}`; {usage}"
                ));
            }
        };
        let self_signed = match value("--tls-self-signed", "REALTIME_TLS_SELF_SIGNED").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "`--tls-self-signed` is true or false, not `{other}`; {usage}"
                ));
            }
        };
        let cert = value("--tls-cert", "REALTIME_TLS_CERT").filter(|path| !path.is_empty());
        let key = value("--tls-key", "REALTIME_TLS_KEY").filter(|path| !path.is_empty());
        let tls = match (cert, key, self_signed) {
            (None, None, false) => None,
            (None, None, true) => Some(TlsSource::SelfSigned),
            (Some(cert), Some(key), false) => Some(TlsSource::Files {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }),
            (Some(_), Some(_), true) => {
                return Err(format!(
                    "`--tls-self-signed` and `--tls-cert`/`--tls-key` exclude each other; {usage}"
                ));
            }
            _ => {
                return Err(format!("`--tls-cert` and `--tls-key` go together; {usage}"));
            }
        };
        Ok(Self {
            addr: parse_addr(&addr)?,
            data_dir: PathBuf::from(data_dir),
            redis_url,
            trusted_proxies,
            secure_cookie,
            tls,
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

    /// Parses `args` with the environment `env` (name, value pairs).
    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        Options::parse("x", args.iter().map(|s| (*s).to_owned()), |name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    fn parse(args: &[&str], env_addr: Option<&str>) -> Result<Options, String> {
        match env_addr {
            Some(addr) => parse_with(args, &[("REALTIME_ADDR", addr)]),
            None => parse_with(args, &[]),
        }
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
        assert_eq!(
            parse_with(&[], &[("REALTIME_DATA_DIR", "/tmp/y")])
                .unwrap()
                .data_dir,
            PathBuf::from("/tmp/y")
        );
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

    #[test]
    fn a_deployment_behind_proxies() {
        let plain = parse_with(&[], &[]).unwrap();
        assert!(plain.trusted_proxies.is_empty());
        assert!(!plain.secure_cookie);
        let behind = parse_with(
            &[
                "--trusted-proxies",
                "10.0.0.0/8, 127.0.0.1,",
                "--secure-cookie=true",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(behind.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        assert!(behind.secure_cookie);
        let env = [
            ("REALTIME_TRUSTED_PROXIES", "::1"),
            ("REALTIME_SECURE_COOKIE", "true"),
        ];
        let from_env = parse_with(&[], &env).unwrap();
        assert_eq!(from_env.trusted_proxies, ["::1"]);
        assert!(from_env.secure_cookie);
        assert!(
            parse_with(&["--secure-cookie", "yes"], &[])
                .unwrap_err()
                .contains("true or false")
        );
    }

    #[test]
    fn tls_from_files_or_self_signed() {
        assert_eq!(parse_with(&[], &[]).unwrap().tls, None);
        assert_eq!(
            parse_with(&["--tls-self-signed", "true"], &[]).unwrap().tls,
            Some(TlsSource::SelfSigned)
        );
        assert_eq!(
            parse_with(&["--tls-self-signed=false"], &[]).unwrap().tls,
            None
        );
        let files = TlsSource::Files {
            cert: PathBuf::from("c.pem"),
            key: PathBuf::from("k.pem"),
        };
        assert_eq!(
            parse_with(&["--tls-cert", "c.pem", "--tls-key", "k.pem"], &[])
                .unwrap()
                .tls,
            Some(files.clone())
        );
        let env = [
            ("REALTIME_TLS_CERT", "c.pem"),
            ("REALTIME_TLS_KEY", "k.pem"),
        ];
        assert_eq!(parse_with(&[], &env).unwrap().tls, Some(files));
        assert!(
            parse_with(&["--tls-cert", "c.pem"], &[])
                .unwrap_err()
                .contains("go together")
        );
        assert!(
            parse_with(&["--tls-self-signed", "yes"], &[])
                .unwrap_err()
                .contains("true or false")
        );
        assert!(
            parse_with(&["--tls-self-signed", "true"], &env)
                .unwrap_err()
                .contains("exclude each other")
        );
    }

    #[test]
    fn the_redis_url_comes_from_the_flag_or_the_environment() {
        let env = [("REALTIME_REDIS_URL", "redis://127.0.0.1:6380")];
        assert_eq!(parse_with(&[], &[]).unwrap().redis_url, None);
        assert_eq!(
            parse_with(&[], &env).unwrap().redis_url.as_deref(),
            Some("redis://127.0.0.1:6380")
        );
        assert_eq!(
            parse_with(&["--redis", "redis://127.0.0.1:6379"], &env)
                .unwrap()
                .redis_url
                .as_deref(),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(
            parse_with(&["--redis=redis://h:1"], &[])
                .unwrap()
                .redis_url
                .as_deref(),
            Some("redis://h:1")
        );
        assert_eq!(
            parse_with(&[], &[("REALTIME_REDIS_URL", "")])
                .unwrap()
                .redis_url,
            None
        );
        assert!(
            parse_with(&["--help"], &[])
                .unwrap_err()
                .contains("--redis URL")
        );
    }
}
