//! Peer options: the C `sk_option` values and their typed storage.

use crate::error::{Error, Result};

/// A peer option. The numeric values are the C `sk_option` values, the
/// Python `OPT_*` constants and the Go `Opt*` constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum PeerOption {
    /// String: a path to an OpenSSH/PEM private key file, or the key text.
    PrivateKey = 0,
    /// String: a path to an authorized_keys file, or its text.
    AuthorizedKeys = 1,
    /// String: this peer's name (default: a random UUID).
    Name = 2,
    /// Integer, ms: delay between reconnect attempts (default 100; -1 = never retry).
    ReconnectInterval = 3,
    /// Integer, ms: cap of the exponential backoff (default 0 = constant interval with jitter).
    ReconnectIntervalMax = 4,
    /// Integer, ms: how long `connect` keeps trying (default 10000).
    ConnectTimeout = 5,
    /// Integer, bytes: largest frame a reader accepts (default 16 MiB).
    MaxFrameSize = 6,
    /// String: a path to a known_hosts file, or its text; when set, servers are checked against it.
    KnownHosts = 7,
    /// Integer, ms: keepalive probe interval on idle connections (default 15000; 0 = off).
    KeepaliveInterval = 8,
    /// Integer: unanswered keepalives before a connection is declared dead (default 3).
    KeepaliveCount = 9,
    /// Integer, ms: time allowed for SSH handshake + authentication + hello (default 10000).
    HandshakeTimeout = 10,
    /// Integer: most channels open at once on one connection (default 8192).
    MaxChannels = 11,
    /// Integer, bytes: per-channel starting receive window (default 256 KiB);
    /// auto-tuning grows it within `WindowBudget`.
    ChannelWindow = 12,
    /// Integer: incoming channels queued for `accept` before new ones are refused (default 1024).
    AcceptBacklog = 13,
    /// Integer, bytes: per connection, how much memory receive-window
    /// auto-tuning may add on top of `ChannelWindow`, over all channels
    /// (default 32 MiB; 0 = fixed windows). Windows grow while a sender is
    /// limited by its window rather than by the reader (estimated from the
    /// measured round-trip time and throughput), so one channel fills a
    /// long, fast link; and, up to 1 MiB, while a channel's reader consumes a
    /// quarter window in under 1 ms (fewer credit round trips on busy
    /// channels).
    WindowBudget = 14,
    /// Integer: most connections one remote key may hold at once to this
    /// peer as a server (default 0 = no limit); more are refused after
    /// authentication, with a `refused` event naming the limit.
    MaxConnectionsPerKey = 15,
}

impl PeerOption {
    /// All options, in numeric order.
    pub const ALL: [PeerOption; 16] = [
        PeerOption::PrivateKey,
        PeerOption::AuthorizedKeys,
        PeerOption::Name,
        PeerOption::ReconnectInterval,
        PeerOption::ReconnectIntervalMax,
        PeerOption::ConnectTimeout,
        PeerOption::MaxFrameSize,
        PeerOption::KnownHosts,
        PeerOption::KeepaliveInterval,
        PeerOption::KeepaliveCount,
        PeerOption::HandshakeTimeout,
        PeerOption::MaxChannels,
        PeerOption::ChannelWindow,
        PeerOption::AcceptBacklog,
        PeerOption::WindowBudget,
        PeerOption::MaxConnectionsPerKey,
    ];

    /// The option for a numeric value, or an invalid-argument error.
    pub fn from_i32(v: i32) -> Result<PeerOption> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .ok_or_else(|| Error::invalid(format!("unknown option {v}")))
    }

    /// The option's upper-case name, as in `SK_OPT_<NAME>`.
    pub fn name(self) -> &'static str {
        match self {
            PeerOption::PrivateKey => "PRIVATE_KEY",
            PeerOption::AuthorizedKeys => "AUTHORIZED_KEYS",
            PeerOption::Name => "NAME",
            PeerOption::ReconnectInterval => "RECONNECT_INTERVAL",
            PeerOption::ReconnectIntervalMax => "RECONNECT_INTERVAL_MAX",
            PeerOption::ConnectTimeout => "CONNECT_TIMEOUT",
            PeerOption::MaxFrameSize => "MAX_FRAME_SIZE",
            PeerOption::KnownHosts => "KNOWN_HOSTS",
            PeerOption::KeepaliveInterval => "KEEPALIVE_INTERVAL",
            PeerOption::KeepaliveCount => "KEEPALIVE_COUNT",
            PeerOption::HandshakeTimeout => "HANDSHAKE_TIMEOUT",
            PeerOption::MaxChannels => "MAX_CHANNELS",
            PeerOption::ChannelWindow => "CHANNEL_WINDOW",
            PeerOption::AcceptBacklog => "ACCEPT_BACKLOG",
            PeerOption::WindowBudget => "WINDOW_BUDGET",
            PeerOption::MaxConnectionsPerKey => "MAX_CONNECTIONS_PER_KEY",
        }
    }

    /// True for options whose value is a string; false for integers.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            PeerOption::PrivateKey
                | PeerOption::AuthorizedKeys
                | PeerOption::Name
                | PeerOption::KnownHosts
        )
    }
}

/// The current option values of a peer.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub private_key: Option<String>,
    pub authorized_keys: Option<String>,
    pub name: String,
    pub reconnect_interval: i64,
    pub reconnect_interval_max: i64,
    pub connect_timeout: i64,
    pub max_frame_size: i64,
    pub known_hosts: Option<String>,
    pub keepalive_interval: i64,
    pub keepalive_count: i64,
    pub handshake_timeout: i64,
    pub max_channels: i64,
    pub channel_window: i64,
    pub accept_backlog: i64,
    pub window_budget: i64,
    pub max_connections_per_key: i64,
}

/// Default MAX_FRAME_SIZE: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: i64 = 16 * 1024 * 1024;
/// Default CHANNEL_WINDOW: 256 KiB.
pub const DEFAULT_CHANNEL_WINDOW: i64 = 256 * 1024;
/// Default WINDOW_BUDGET: 32 MiB per connection.
pub const DEFAULT_WINDOW_BUDGET: i64 = 32 * 1024 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            private_key: None,
            authorized_keys: None,
            name: uuid::Uuid::new_v4().to_string(),
            reconnect_interval: 100,
            reconnect_interval_max: 0,
            connect_timeout: 10_000,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            known_hosts: None,
            keepalive_interval: 15_000,
            keepalive_count: 3,
            handshake_timeout: 10_000,
            max_channels: 8192,
            channel_window: DEFAULT_CHANNEL_WINDOW,
            accept_backlog: 1024,
            window_budget: DEFAULT_WINDOW_BUDGET,
            max_connections_per_key: 0,
        }
    }
}

impl Options {
    pub(crate) fn set_str(&mut self, opt: PeerOption, v: &str) -> Result<()> {
        let slot = match opt {
            PeerOption::PrivateKey => &mut self.private_key,
            PeerOption::AuthorizedKeys => &mut self.authorized_keys,
            PeerOption::KnownHosts => &mut self.known_hosts,
            PeerOption::Name => {
                validate_name(v)?;
                self.name = v.to_string();
                return Ok(());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "option {} takes an integer, not a string",
                    opt.name()
                )))
            }
        };
        *slot = if v.is_empty() {
            None
        } else {
            Some(v.to_string())
        };
        Ok(())
    }

    pub(crate) fn get_str(&self, opt: PeerOption) -> Result<String> {
        Ok(match opt {
            PeerOption::PrivateKey => self.private_key.clone().unwrap_or_default(),
            PeerOption::AuthorizedKeys => self.authorized_keys.clone().unwrap_or_default(),
            PeerOption::KnownHosts => self.known_hosts.clone().unwrap_or_default(),
            PeerOption::Name => self.name.clone(),
            _ => {
                return Err(Error::invalid(format!(
                    "option {} is an integer, not a string",
                    opt.name()
                )))
            }
        })
    }

    pub(crate) fn set_int(&mut self, opt: PeerOption, v: i64) -> Result<()> {
        let range = |lo: i64, hi: i64| -> Result<i64> {
            if v < lo || v > hi {
                Err(Error::invalid(format!(
                    "option {} must be between {lo} and {hi}, got {v}",
                    opt.name()
                )))
            } else {
                Ok(v)
            }
        };
        const DAY_MS: i64 = 86_400_000;
        match opt {
            PeerOption::ReconnectInterval => self.reconnect_interval = range(-1, DAY_MS)?,
            PeerOption::ReconnectIntervalMax => self.reconnect_interval_max = range(0, DAY_MS)?,
            PeerOption::ConnectTimeout => self.connect_timeout = range(0, DAY_MS)?,
            PeerOption::MaxFrameSize => self.max_frame_size = range(1, u32::MAX as i64)?,
            PeerOption::KeepaliveInterval => self.keepalive_interval = range(0, DAY_MS)?,
            PeerOption::KeepaliveCount => self.keepalive_count = range(1, 1000)?,
            PeerOption::HandshakeTimeout => self.handshake_timeout = range(1, DAY_MS)?,
            PeerOption::MaxChannels => self.max_channels = range(1, 1 << 24)?,
            PeerOption::ChannelWindow => self.channel_window = range(4096, 1 << 30)?,
            PeerOption::AcceptBacklog => self.accept_backlog = range(1, 1 << 20)?,
            PeerOption::WindowBudget => self.window_budget = range(0, 1 << 30)?,
            PeerOption::MaxConnectionsPerKey => self.max_connections_per_key = range(0, 1 << 24)?,
            _ => {
                return Err(Error::invalid(format!(
                    "option {} takes a string, not an integer",
                    opt.name()
                )))
            }
        }
        Ok(())
    }

    pub(crate) fn get_int(&self, opt: PeerOption) -> Result<i64> {
        Ok(match opt {
            PeerOption::ReconnectInterval => self.reconnect_interval,
            PeerOption::ReconnectIntervalMax => self.reconnect_interval_max,
            PeerOption::ConnectTimeout => self.connect_timeout,
            PeerOption::MaxFrameSize => self.max_frame_size,
            PeerOption::KeepaliveInterval => self.keepalive_interval,
            PeerOption::KeepaliveCount => self.keepalive_count,
            PeerOption::HandshakeTimeout => self.handshake_timeout,
            PeerOption::MaxChannels => self.max_channels,
            PeerOption::ChannelWindow => self.channel_window,
            PeerOption::AcceptBacklog => self.accept_backlog,
            PeerOption::WindowBudget => self.window_budget,
            PeerOption::MaxConnectionsPerKey => self.max_connections_per_key,
            _ => {
                return Err(Error::invalid(format!(
                    "option {} is a string, not an integer",
                    opt.name()
                )))
            }
        })
    }
}

/// Peer names travel as SSH user names and in the hello message.
pub(crate) fn validate_name(v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid("option NAME must not be empty"));
    }
    if v.len() > 255 {
        return Err(Error::invalid("option NAME must be at most 255 bytes"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "option NAME must not contain control characters",
        ));
    }
    Ok(())
}
