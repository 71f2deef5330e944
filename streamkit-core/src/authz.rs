//! Per-key authorization: `authorized_keys` lines with their options, read
//! as sshd(8) reads them (AUTHORIZED_KEYS FILE FORMAT), plus streamkit's own
//! `streamkit-names=` and `streamkit-services=` options.
//!
//! A key is authorized by the first line that lists it and whose options
//! admit the connection (like sshd, a refused line does not stop the search).
//! Options streamkit cannot honour make their line refuse every connection
//! (fail closed); malformed values of options it does honour are load errors.
//! docs/SECURITY.md describes the model.

use crate::error::{Error, Result};
use russh::keys::{Algorithm, PublicKey};
use std::net::IpAddr;

/// Where a connection comes from, as far as `from=` can tell.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A TCP connection's remote address.
    Ip(IpAddr),
    /// No network address (a Unix socket): the transport, for messages.
    NoAddress(&'static str),
}

impl Source {
    pub(crate) fn ip(a: IpAddr) -> Source {
        Source::Ip(a.to_canonical())
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Ip(a) => write!(f, "{a}"),
            Source::NoAddress(t) => write!(f, "{t} (no address)"),
        }
    }
}

/// What an authorized key may do once connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grant {
    /// `streamkit-names=`: the peer names the key may use (`None`: any).
    pub names: Option<Vec<String>>,
    /// `streamkit-services=`: the services the key may open (`None`: any).
    pub services: Option<Vec<String>>,
}

impl Grant {
    pub(crate) fn allows_name(&self, n: &str) -> bool {
        self.names.as_ref().is_none_or(|v| v.iter().any(|x| x == n))
    }
    pub(crate) fn allows_service(&self, s: &str) -> bool {
        self.services
            .as_ref()
            .is_none_or(|v| v.iter().any(|x| x == s))
    }
}

/// One key line of an authorized_keys file or text.
#[derive(Debug, Clone)]
pub(crate) struct KeyLine {
    pub key: PublicKey,
    /// 1-based line number.
    pub line: usize,
    /// `from=` patterns, as written.
    from: Option<String>,
    /// `expiry-time=` as written and as seconds since the Unix epoch (UTC).
    expiry: Option<(String, i64)>,
    grant: Grant,
    /// The first option this line carries that streamkit cannot honour.
    unsupported: Option<String>,
}

/// Options accepted and trivially satisfied: streamkit offers no pty, agent,
/// X11 or port forwarding and runs no user rc; the positive forms re-enable
/// after `restrict` what does not exist.
const NO_EFFECT: &[&str] = &[
    "restrict",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-x11-forwarding",
    "agent-forwarding",
    "port-forwarding",
    "pty",
    "user-rc",
    "x11-forwarding",
    "no-touch-required",
];

/// Parsed authorized_keys content and where it came from (for messages).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthorizedKeys {
    pub source: String,
    pub lines: Vec<KeyLine>,
}

/// Refuse keys OpenSSH itself no longer accepts: DSA, RSA under 2048 bits.
pub(crate) fn check_key_strength(k: &PublicKey) -> std::result::Result<(), String> {
    match k.algorithm() {
        Algorithm::Dsa => {
            Err("DSA (ssh-dss) keys are refused: use an ed25519 key (ssh-keygen -t ed25519)".into())
        }
        Algorithm::Rsa { .. } => {
            let bits = k
                .key_data()
                .rsa()
                .and_then(|r| r.n().as_positive_bytes())
                .map(|b| {
                    let lead = b.first().map_or(0, |x| 8 - x.leading_zeros() as usize);
                    (b.len().saturating_sub(1)) * 8 + lead
                })
                .unwrap_or(0);
            if bits < 2048 {
                Err(format!(
                    "RSA keys of {bits} bits are refused (the minimum is 2048): use an ed25519 key (ssh-keygen -t ed25519)"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Split an options string at commas outside double quotes, and each option
/// into a lower-cased name and an unquoted value.
fn split_options(s: &str) -> std::result::Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    let mut parts = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'"') => {
                cur.push('\\');
                cur.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err("an option value has no closing double quote".into());
    }
    parts.push(cur);
    for p in parts {
        if p.is_empty() {
            return Err("empty option (two commas in a row?)".into());
        }
        match p.split_once('=') {
            None => out.push((p.to_ascii_lowercase(), None)),
            Some((n, v)) => {
                let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
                    return Err(format!("the value of {n}= must be in double quotes"));
                };
                out.push((n.to_ascii_lowercase(), Some(inner.replace("\\\"", "\""))));
            }
        }
    }
    Ok(out)
}

/// The options part of a line: up to the first blank outside double quotes.
fn take_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        if c == '"' && prev != '\\' {
            quoted = !quoted;
        } else if (c == ' ' || c == '\t') && !quoted {
            return (&line[..i], line[i..].trim_start());
        }
        prev = c;
    }
    (line, "")
}

/// Parse `expiry-time=` (YYYYMMDD[HHMM[SS]], optionally with a trailing `Z`)
/// into seconds since the epoch. streamkit reads it as UTC (sshd reads it as
/// the server's local time unless `Z` is given).
pub(crate) fn parse_expiry(v: &str) -> std::result::Result<i64, String> {
    let d = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    if !matches!(d.len(), 8 | 12 | 14) || !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expiry-time=\"{v}\" is not YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS"
        ));
    }
    let n = |a: usize, b: usize| d.get(a..b).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (y, mo, da) = (n(0, 4), n(4, 6), n(6, 8));
    let (h, mi, s) = (n(8, 10), n(10, 12), n(12, 14));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid_day =
        (1..=12).contains(&mo) && da >= 1 && da <= mdays[(mo as usize).saturating_sub(1) % 12];
    if y < 1970 || !valid_day || h > 23 || mi > 59 || s > 59 {
        return Err(format!("expiry-time=\"{v}\" is not a valid date and time"));
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Ok(days * 86400 + h * 3600 + mi * 60 + s)
}

/// `*` and `?` wildcard match (as OpenSSH's match_pattern).
pub(crate) fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// A `from=` CIDR entry: the network and prefix length.
fn parse_cidr(s: &str) -> std::result::Result<(IpAddr, u8), String> {
    let bad = || format!("{s:?} is not an address/prefix-length network (like 10.0.0.0/8)");
    let (a, l) = s.split_once('/').ok_or_else(bad)?;
    let a: IpAddr = a.parse().map_err(|_| bad())?;
    let l: u8 = l.parse().map_err(|_| bad())?;
    let max = if a.is_ipv4() { 32 } else { 128 };
    if l > max {
        return Err(bad());
    }
    if mask(a, l) != a {
        return Err(format!("{s:?} has bits set beyond its prefix length"));
    }
    Ok((a, l))
}

fn mask(a: IpAddr, l: u8) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let m = if l == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(l))
            };
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = if l == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(l))
            };
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

/// Check a `from=` list's syntax (CIDR entries must be valid).
fn check_from(list: &str) -> std::result::Result<(), String> {
    for e in list.split(',') {
        let e = e.strip_prefix('!').unwrap_or(e);
        if e.is_empty() {
            return Err("from= has an empty pattern".into());
        }
        if e.contains('/') {
            parse_cidr(e)?;
        }
    }
    Ok(())
}

/// Whether the address is admitted by a `from=` list, as sshd (with its
/// default `UseDNS no`, so host name patterns are matched against the
/// address text) decides: a matching negated pattern refuses, otherwise any
/// matching pattern admits; CIDR entries match by network.
pub(crate) fn from_matches(list: &str, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let text = ip.to_string().to_ascii_lowercase();
    let mut positive = false;
    for e in list.split(',') {
        let (neg, pat) = match e.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, e),
        };
        let hit = if pat.contains('/') {
            match parse_cidr(pat) {
                Ok((net, l)) => net.is_ipv4() == ip.is_ipv4() && mask(ip, l) == net,
                // Checked at load; an unparsable entry never admits.
                Err(_) => return false,
            }
        } else {
            wildcard(pat.to_ascii_lowercase().as_bytes(), text.as_bytes())
        };
        if hit && neg {
            return false;
        }
        positive |= hit;
    }
    positive
}

fn name_list(opt: &str, v: &str) -> std::result::Result<Vec<String>, String> {
    let items: Vec<String> = v.split(',').map(str::to_string).collect();
    if items.iter().any(String::is_empty) {
        return Err(format!("{opt}=\"{v}\" has an empty item"));
    }
    Ok(items)
}

/// Parse one line's options.
fn parse_line_options(
    opts: &str,
    key: PublicKey,
    line: usize,
) -> std::result::Result<KeyLine, String> {
    let mut kl = KeyLine {
        key,
        line,
        from: None,
        expiry: None,
        grant: Grant::default(),
        unsupported: None,
    };
    if opts.is_empty() {
        return Ok(kl);
    }
    for (name, value) in split_options(opts)? {
        let dup = |set: bool| {
            if set {
                Err(format!("option {name}= is given twice"))
            } else {
                Ok(())
            }
        };
        match (name.as_str(), value) {
            (n, None) if NO_EFFECT.contains(&n) => {}
            ("from", Some(v)) => {
                dup(kl.from.is_some())?;
                check_from(&v)?;
                kl.from = Some(v);
            }
            ("expiry-time", Some(v)) => {
                dup(kl.expiry.is_some())?;
                let t = parse_expiry(&v)?;
                kl.expiry = Some((v, t));
            }
            ("streamkit-names", Some(v)) => {
                dup(kl.grant.names.is_some())?;
                let names = name_list(&name, &v)?;
                for n in &names {
                    crate::options::validate_name(n).map_err(|_| {
                        format!("streamkit-names= lists {n:?}, which is not a valid peer name")
                    })?;
                }
                kl.grant.names = Some(names);
            }
            ("streamkit-services", Some(v)) => {
                dup(kl.grant.services.is_some())?;
                kl.grant.services = Some(name_list(&name, &v)?);
            }
            (n, v) => {
                // command=, permitopen=, permitlisten=, principals=,
                // environment=, tunnel=, cert-authority, verify-required and
                // anything unknown: sshd would enforce or reject it; streamkit
                // cannot enforce it, so the line admits nothing.
                if kl.unsupported.is_none() {
                    kl.unsupported = Some(match v {
                        Some(_) => format!("{n}="),
                        None => n.to_string(),
                    });
                }
            }
        }
    }
    Ok(kl)
}

/// Parse authorized_keys text. `source` names it in messages
/// (`authorized_keys file "/path"` or `the AUTHORIZED_KEYS text`).
pub(crate) fn parse_authorized(text: &str, source: &str) -> Result<AuthorizedKeys> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err =
            |why: String| Error::invalid(format!("AUTHORIZED_KEYS: line {n} of {source}: {why}"));
        let (opts, key) = match PublicKey::from_openssh(l) {
            Ok(k) => ("", k),
            Err(first) => {
                let (opts, rest) = take_options(l);
                match PublicKey::from_openssh(rest) {
                    Ok(k) => (opts, k),
                    Err(_) => {
                        // Say what is wrong with the options if anything is
                        // (an unclosed quote swallows the key).
                        split_options(opts).map_err(&err)?;
                        return Err(err(format!("not a valid public key line: {first}")));
                    }
                }
            }
        };
        check_key_strength(&key).map_err(err)?;
        lines.push(parse_line_options(opts, key, n).map_err(err)?);
    }
    Ok(AuthorizedKeys {
        source: source.to_string(),
        lines,
    })
}

/// Seconds since the Unix epoch now.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AuthorizedKeys {
    /// Whether any line lists `key` (whatever its options).
    pub(crate) fn lists(&self, key: &PublicKey) -> bool {
        self.lines
            .iter()
            .any(|l| l.key.key_data() == key.key_data())
    }

    /// The grant of the first line that lists `key` and admits a connection
    /// from `src` (and, when given, with the peer name `name`) at time `now`;
    /// otherwise why each listing line refused (empty if no line lists it).
    pub(crate) fn authorize(
        &self,
        key: &PublicKey,
        src: &Source,
        name: Option<&str>,
        now: i64,
    ) -> std::result::Result<Grant, Vec<String>> {
        let mut why = Vec::new();
        for l in self
            .lines
            .iter()
            .filter(|l| l.key.key_data() == key.key_data())
        {
            let at = format!("line {} of {}", l.line, self.source);
            if let Some(opt) = &l.unsupported {
                why.push(format!(
                    "{at} has the option {opt}, which streamkit cannot honour, so that line refuses every connection"
                ));
                continue;
            }
            if let Some(from) = &l.from {
                match src {
                    Source::Ip(ip) if from_matches(from, *ip) => {}
                    Source::Ip(ip) => {
                        why.push(format!("{at}: from=\"{from}\" does not admit {ip}"));
                        continue;
                    }
                    Source::NoAddress(t) => {
                        why.push(format!(
                            "{at}: from=\"{from}\" admits network addresses only and a {t} connection has none"
                        ));
                        continue;
                    }
                }
            }
            if let Some((text, t)) = &l.expiry {
                if *t < now {
                    why.push(format!(
                        "{at}: the key expired (expiry-time=\"{text}\", UTC)"
                    ));
                    continue;
                }
            }
            if let Some(n) = name {
                if !l.grant.allows_name(n) {
                    why.push(format!(
                        "{at}: streamkit-names=\"{}\" does not include the name {n:?}",
                        l.grant.names.as_deref().unwrap_or_default().join(",")
                    ));
                    continue;
                }
            }
            return Ok(l.grant.clone());
        }
        Err(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIuhOk3Ir+Fsb0n3JDz5cV+mdU3hJJ3j6Q8y3XY8u2k";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"10.0.0.*", b"10.0.0.17"));
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"1?.0.0.1", b"10.0.0.1"));
        assert!(!wildcard(b"1?.0.0.1", b"1.0.0.1"));
        assert!(wildcard(b"*.1", b"10.0.0.1"));
        assert!(!wildcard(b"10.0.0.1", b"10.0.0.10"));
        assert!(wildcard(b"a*b*c", b"axxbyyc"));
        assert!(!wildcard(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn from_patterns_match_like_sshd() {
        assert!(from_matches("127.0.0.1", ip("127.0.0.1")));
        assert!(!from_matches("10.9.9.9", ip("127.0.0.1")));
        assert!(from_matches("10.9.9.9,127.0.0.*", ip("127.0.0.1")));
        // A matching negation refuses whatever else matches.
        assert!(!from_matches("127.0.0.*,!127.0.0.1", ip("127.0.0.1")));
        assert!(from_matches("127.0.0.*,!127.0.0.2", ip("127.0.0.1")));
        // Negation alone admits nothing.
        assert!(!from_matches("!10.0.0.1", ip("127.0.0.1")));
        assert!(from_matches("127.0.0.0/8", ip("127.1.2.3")));
        assert!(!from_matches("10.0.0.0/8", ip("127.1.2.3")));
        assert!(!from_matches("10.0.0.0/8,!127.0.0.0/8", ip("127.0.0.1")));
        assert!(from_matches("::1", ip("::1")));
        assert!(from_matches("fe80::/10", ip("FE80::1")));
        assert!(!from_matches("0.0.0.0/0", ip("::1")));
        // An IPv4 client seen through an IPv6 socket matches its IPv4 form.
        assert!(from_matches("127.0.0.1", ip("::ffff:127.0.0.1")));
        // Host names are never looked up (sshd's UseDNS no).
        assert!(!from_matches("localhost", ip("127.0.0.1")));
    }

    #[test]
    fn cidr_syntax_is_checked() {
        assert!(check_from("10.0.0.0/8,!10.1.0.0/16").is_ok());
        assert!(check_from("10.0.0.1/8").unwrap_err().contains("beyond"));
        assert!(check_from("10.0.0.0/33").is_err());
        assert!(check_from("bogus/8").is_err());
        assert!(check_from("a,,b").is_err());
    }

    #[test]
    fn expiry_times() {
        assert_eq!(parse_expiry("19700101").unwrap(), 0);
        assert_eq!(parse_expiry("20000101").unwrap(), 946_684_800);
        assert_eq!(parse_expiry("200001010000").unwrap(), 946_684_800);
        assert_eq!(parse_expiry("20240229123456Z").unwrap(), 1_709_210_096);
        for bad in [
            "2000010",
            "20001301",
            "20230229",
            "2000010125",
            "20000101246000",
            "abcdefgh",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_split_and_unquote() {
        let o =
            split_options(r#"from="a,b",restrict,command="echo \"hi, there\"",NO-PTY"#).unwrap();
        assert_eq!(
            o,
            vec![
                ("from".into(), Some("a,b".into())),
                ("restrict".into(), None),
                ("command".into(), Some("echo \"hi, there\"".into())),
                ("no-pty".into(), None),
            ]
        );
        assert!(split_options(r#"from="a"#).is_err());
        assert!(split_options("from=a").is_err());
        assert!(split_options("restrict,,no-pty").is_err());
    }

    fn parse(t: &str) -> AuthorizedKeys {
        parse_authorized(t, "test").unwrap()
    }

    fn key() -> PublicKey {
        PublicKey::from_openssh(K).unwrap()
    }

    #[test]
    fn lines_with_options() {
        let text = format!(
            "# comment\n\n{K} plain\nrestrict,from=\"10.0.0.0/8\" {K} with spaces in comment\ncommand=\"/bin/echo a b\",no-pty {K}\n"
        );
        let a = parse(&text);
        assert_eq!(a.lines.len(), 3);
        assert_eq!(
            a.lines.iter().map(|l| l.line).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(a.lines[1].from.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(a.lines[2].unsupported.as_deref(), Some("command="));
        // Two spaces only: the options are found all the same.
        let a = parse(&format!("restrict {K}"));
        assert_eq!(a.lines.len(), 1);
        assert!(a.lines[0].unsupported.is_none());
    }

    #[test]
    fn bad_values_are_load_errors_naming_the_line() {
        for (opts, what) in [
            ("from=\"10.0.0.1/8\"", "beyond"),
            ("expiry-time=\"2020\"", "expiry-time"),
            ("streamkit-names=\"a,\"", "empty"),
            ("from=\"a\",from=\"b\"", "twice"),
        ] {
            let e = parse_authorized(&format!("\n{opts} {K}\n"), "the AUTHORIZED_KEYS text")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("line 2 of the AUTHORIZED_KEYS text") && e.contains(what),
                "{e}"
            );
        }
    }

    #[test]
    fn authorize_follows_the_options() {
        let src = Source::ip(ip("127.0.0.1"));
        let unix = Source::NoAddress("unix://");
        let now = parse_expiry("20260101").unwrap();
        let a = parse(&format!("{K}\n"));
        assert_eq!(
            a.authorize(&key(), &unix, Some("x"), now),
            Ok(Grant::default())
        );

        let a = parse(&format!("from=\"10.9.9.9\" {K}\n"));
        let why = a.authorize(&key(), &src, None, now).unwrap_err();
        assert!(
            why[0].contains("line 1 of test") && why[0].contains("10.9.9.9"),
            "{why:?}"
        );
        assert!(a.authorize(&key(), &unix, None, now).unwrap_err()[0].contains("unix://"));

        let a = parse(&format!(
            "expiry-time=\"20251231\" {K}\nexpiry-time=\"20260102\" {K}\n"
        ));
        // The first line expired; sshd goes on to the next, which admits.
        assert!(a.authorize(&key(), &src, None, now).is_ok());
        assert!(a.authorize(&key(), &src, None, now + 86400 * 2).is_err());

        let a = parse(&format!("restrict,command=\"/bin/false\" {K}\n"));
        let why = a.authorize(&key(), &src, None, now).unwrap_err();
        assert!(why[0].contains("command="), "{why:?}");
        let a = parse(&format!("cert-authority {K}\n"));
        assert!(a.authorize(&key(), &src, None, now).is_err());
        let a = parse(&format!("frobnicate {K}\n"));
        assert!(a.authorize(&key(), &src, None, now).is_err());

        let a = parse(&format!(
            "restrict,streamkit-names=\"deploy\",streamkit-services=\"logs,metrics\" {K}\n"
        ));
        assert!(a.authorize(&key(), &src, Some("other"), now).is_err());
        let g = a.authorize(&key(), &src, Some("deploy"), now).unwrap();
        assert!(g.allows_service("logs") && !g.allows_service("sh"));
        assert!(g.allows_name("deploy") && !g.allows_name("server"));
    }
}
