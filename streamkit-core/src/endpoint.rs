//! Endpoint strings: `tcp://HOST:PORT`, `unix:///abs/path`, `inproc://NAME`.

use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp://HOST:PORT`; HOST may be a name, an IPv4 address or `[IPv6]`.
    Tcp {
        /// Host name or address (without brackets).
        host: String,
        /// Port; 0 asks the OS for a free one when binding.
        port: u16,
    },
    /// `unix:///absolute/path`.
    Unix(PathBuf),
    /// `inproc://NAME`: same process, no sockets.
    Inproc(String),
}

impl Endpoint {
    /// Parse an endpoint string, naming the problem on failure.
    pub fn parse(s: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::invalid(format!("bad endpoint {s:?}: {why}"));
        if let Some(rest) = s.strip_prefix("tcp://") {
            let (host, port) = if let Some(r) = rest.strip_prefix('[') {
                let close = r
                    .find(']')
                    .ok_or_else(|| bad("missing ']' after IPv6 address"))?;
                let host = &r[..close];
                let port = r[close + 1..]
                    .strip_prefix(':')
                    .ok_or_else(|| bad("expected tcp://HOST:PORT"))?;
                (host, port)
            } else {
                rest.rsplit_once(':')
                    .ok_or_else(|| bad("expected tcp://HOST:PORT"))?
            };
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            if host.contains(['/', ' ']) {
                return Err(bad("invalid host"));
            }
            let port: u16 = port
                .parse()
                .map_err(|_| bad("port must be a number 0-65535"))?;
            Ok(Endpoint::Tcp {
                host: host.to_string(),
                port,
            })
        } else if let Some(rest) = s.strip_prefix("unix://") {
            if !rest.starts_with('/') {
                return Err(bad(
                    "unix endpoints need an absolute path: unix:///path/to/socket",
                ));
            }
            if rest.len() < 2 {
                return Err(bad("empty socket path"));
            }
            Ok(Endpoint::Unix(PathBuf::from(rest)))
        } else if let Some(rest) = s.strip_prefix("inproc://") {
            if rest.is_empty() {
                return Err(bad("empty inproc name"));
            }
            Ok(Endpoint::Inproc(rest.to_string()))
        } else {
            Err(bad(
                "expected tcp://HOST:PORT, unix:///path or inproc://NAME",
            ))
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Inproc(n) => write!(f, "inproc://{n}"),
        }
    }
}

/// What a client connection reaches: an endpoint, or a byte stream given by
/// the application (`Peer::connect_stream`), optionally naming the endpoint
/// it leads to (a proxy command's target) for KNOWN_HOSTS and messages.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) ep: Option<Endpoint>,
    describe: String,
}

impl Target {
    pub(crate) fn endpoint(ep: &Endpoint) -> Target {
        Target {
            ep: Some(ep.clone()),
            describe: ep.to_string(),
        }
    }

    /// A stream given by the application; `ep` is where it leads, if known.
    pub(crate) fn stream(ep: Option<Endpoint>) -> Target {
        let describe = match &ep {
            Some(e) => format!("{e} (through a stream)"),
            None => "stream".to_string(),
        };
        Target { ep, describe }
    }

    /// The host name a known_hosts line must match (`HOST`, or
    /// `[HOST]:PORT` off port 22, as OpenSSH writes them); `None` when
    /// there is none (unix://, a bare stream): then any plain line with the
    /// key matches.
    pub(crate) fn known_hosts_name(&self) -> Option<String> {
        match &self.ep {
            Some(Endpoint::Tcp { host, port }) if *port == 22 => Some(host.clone()),
            Some(Endpoint::Tcp { host, port }) => Some(format!("[{host}]:{port}")),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in [
            "tcp://127.0.0.1:0",
            "tcp://[::1]:80",
            "unix:///tmp/x.sock",
            "inproc://a",
        ] {
            assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "tcp://",
            "tcp://host",
            "tcp://:1",
            "tcp://h:99999",
            "unix://rel",
            "inproc://",
            "udp://x:1",
            "tcp://[::1",
        ] {
            let e = Endpoint::parse(s).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Invalid, "{s}");
            assert!(e.to_string().contains(&format!("{s:?}")), "{e}");
        }
    }
}
