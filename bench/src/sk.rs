//! The streamkit side of every scenario, through the public streamkit-core API.

use crate::util::*;
use crate::Out;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use streamkit_core::{Channel, Peer, PeerOption};

fn e(ctx: &str) -> impl Fn(streamkit_core::Error) -> String + '_ {
    move |err| format!("streamkit {ctx}: {err}")
}

/// A fresh endpoint of the given kind ("tcp" or "inproc").
pub fn endpoint(kind: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    match kind {
        "inproc" => format!("inproc://bench-{}-{n}", std::process::id()),
        _ => "tcp://127.0.0.1:0".to_string(),
    }
}

fn keyed_peer(name: &str, key: &str) -> Result<Peer, String> {
    let p = Peer::new();
    p.set_option_str(PeerOption::Name, name)
        .map_err(e("set name"))?;
    p.set_option_str(PeerOption::PrivateKey, key)
        .map_err(e("set key"))?;
    Ok(p)
}

/// A bound "server" and a connected "client" that trust each other.
pub async fn pair(kind: &str) -> Result<(Peer, Peer), String> {
    let s = keyed_peer("server", &streamkit_core::generate_key())?;
    let c = keyed_peer("client", &streamkit_core::generate_key())?;
    let keys = format!(
        "{}\n{}\n",
        s.public_key().map_err(e("key"))?,
        c.public_key().map_err(e("key"))?
    );
    s.set_option_str(PeerOption::AuthorizedKeys, &keys)
        .map_err(e("trust"))?;
    c.set_option_str(PeerOption::AuthorizedKeys, &keys)
        .map_err(e("trust"))?;
    let ep = s.bind(&endpoint(kind)).await.map_err(e("bind"))?;
    c.connect(&ep).await.map_err(e("connect"))?;
    Ok((s, c))
}

async fn done(s: Peer, c: Peer) {
    let _ = c.shutdown().await;
    let _ = s.shutdown().await;
}

async fn open_pair(s: &Peer, c: &Peer, svc: &str) -> Result<(Channel, Channel), String> {
    let a = c.open("server", svc, &[]).await.map_err(e("open"))?;
    let b = tokio::time::timeout(Duration::from_secs(10), s.accept())
        .await
        .map_err(|_| "streamkit accept timed out".to_string())?
        .map_err(e("accept"))?;
    Ok((a, b))
}

/// Write `total` pattern bytes on `a` in 64 KiB writes starting at pattern
/// offset `start`, then half-close.
async fn send_pattern(a: Channel, start: u64, total: u64) -> Result<(), String> {
    let mut off = 0u64;
    while off < total {
        let n = (total - off).min(WRITE as u64) as usize;
        a.write_bytes(expected(start + off, n))
            .await
            .map_err(e("write"))?;
        off += n as u64;
    }
    a.close_write().await.map_err(e("close_write"))
}

/// Read `b` to EOF, verifying every byte; returns the byte count.
async fn recv_pattern(b: &Channel, start: u64, buf: &mut [u8]) -> Result<u64, String> {
    let mut v = Verifier { off: start };
    loop {
        let n = b.read(buf).await.map_err(e("read"))?;
        if n == 0 {
            return Ok(v.off - start);
        }
        v.check(&buf[..n]).map_err(|m| format!("streamkit: {m}"))?;
    }
}

/// Scenario 1/6: one channel, `total` bytes in 64 KiB writes.
pub async fn bulk(kind: &str, total: u64) -> Out {
    let (s, c) = pair(kind).await?;
    let (a, b) = open_pair(&s, &c, "bulk").await?;
    let mut buf = vec![0u8; 256 * 1024];
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let w = tokio::spawn(send_pattern(a, 0, total));
    let got = recv_pattern(&b, 0, &mut buf).await?;
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    w.await.map_err(|j| j.to_string())??;
    if got != total {
        return Err(format!(
            "streamkit bulk: received {got} bytes, sent {total}"
        ));
    }
    done(s, c).await;
    Ok(vec![("MB/s", total as f64 / dt / 1e6), ("CPU s", cpu)])
}

/// Scenario 2/6: 64-byte frames one way for `secs`.
pub async fn frames(kind: &str, secs: f64) -> Out {
    let (s, c) = pair(kind).await?;
    let (a, b) = open_pair(&s, &c, "frames").await?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    let w = tokio::spawn(async move {
        let mut seq = 0u64;
        loop {
            for _ in 0..256 {
                a.write_frame(&frame(seq)).await.map_err(e("write_frame"))?;
                seq += 1;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        a.close_write().await.map_err(e("close_write"))?;
        Ok::<u64, String>(seq)
    });
    let mut n = 0u64;
    while let Some(f) = b.read_frame().await.map_err(e("read_frame"))? {
        check_frame(&f, n).map_err(|m| format!("streamkit: {m}"))?;
        n += 1;
    }
    let dt = t0.elapsed().as_secs_f64();
    let sent = w.await.map_err(|j| j.to_string())??;
    if sent != n {
        return Err(format!(
            "streamkit frames: received {n} frames, sent {sent}"
        ));
    }
    done(s, c).await;
    Ok(vec![("frames/s", n as f64 / dt)])
}

/// Scenario 3/6: 64-byte frame echo; p50 and p99 in µs.
pub async fn rtt(kind: &str, warm: usize, n: usize) -> Out {
    let (s, c) = pair(kind).await?;
    let (a, b) = open_pair(&s, &c, "echo").await?;
    let echo = tokio::spawn(async move {
        while let Some(f) = b.read_frame().await.map_err(e("echo read"))? {
            b.write_frame(&f).await.map_err(e("echo write"))?;
        }
        Ok::<(), String>(())
    });
    let mut lat = Vec::with_capacity(n);
    for i in 0..(warm + n) as u64 {
        let t = Instant::now();
        a.write_frame(&frame(i)).await.map_err(e("write_frame"))?;
        let f = a
            .read_frame()
            .await
            .map_err(e("read_frame"))?
            .ok_or("streamkit echo: early EOF")?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        check_frame(&f, i).map_err(|m| format!("streamkit echo: {m}"))?;
        if i as usize >= warm {
            lat.push(us);
        }
    }
    a.close_write().await.map_err(e("close_write"))?;
    echo.await.map_err(|j| j.to_string())??;
    done(s, c).await;
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok(vec![
        ("p50 µs", quantile(&lat, 0.5)),
        ("p99 µs", quantile(&lat, 0.99)),
    ])
}

fn churn_server(s: Peer) -> tokio::task::JoinHandle<Result<(), String>> {
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        while let Ok(ch) = s.accept().await {
            tasks.spawn(async move {
                let id = ch.id();
                let f = step(format!("churn server, channel {id}: read_frame"), async {
                    ch.read_frame()
                        .await
                        .map_err(e("churn server read"))?
                        .ok_or_else(|| "churn: no first frame".to_string())
                })
                .await?;
                step(format!("churn server, channel {id}: write_frame"), async {
                    ch.write_frame(&f).await.map_err(e("churn server write"))
                })
                .await?;
                step(format!("churn server, channel {id}: close"), async {
                    ch.close().await.map_err(e("churn server close"))
                })
                .await
            });
            while let Some(r) = tasks.try_join_next() {
                r.map_err(|j| j.to_string())??;
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|j| j.to_string())??;
        }
        Ok(())
    })
}

/// `f`, or an error naming the step if it takes longer than 10 s.
async fn step<T>(
    what: String,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(10), f).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "streamkit: {what} did not complete within 10 s (hang)"
        )),
    }
}

async fn churn_one(c: &Peer, i: u64) -> Result<(), String> {
    let ch = step(format!("churn op {i}: open"), async {
        c.open("server", "churn", &[])
            .await
            .map_err(e("churn open"))
    })
    .await?;
    let id = ch.id();
    step(format!("churn op {i} (channel {id}): write_frame"), async {
        ch.write_frame(&frame(i)).await.map_err(e("churn write"))
    })
    .await?;
    let f = step(
        format!("churn op {i} (channel {id}): read_frame of the echo"),
        async {
            ch.read_frame()
                .await
                .map_err(e("churn read"))?
                .ok_or_else(|| "streamkit churn: EOF before the echo".to_string())
        },
    )
    .await?;
    check_frame(&f, i).map_err(|m| format!("streamkit churn: {m}"))?;
    step(format!("churn op {i} (channel {id}): close"), async {
        ch.close().await.map_err(e("churn close"))
    })
    .await
}

/// Scenario 4: open + first frame (echoed) + close, sequentially for `secs`
/// (when `conc` is 0) or `conc` at once. Returns opens/s.
pub async fn churn(kind: &str, secs: f64, conc: usize) -> Out {
    let (s, c) = pair(kind).await?;
    let srv = churn_server(s.clone());
    let r = async {
        if conc == 0 {
            let t0 = Instant::now();
            let mut i = 0u64;
            while t0.elapsed().as_secs_f64() < secs {
                churn_one(&c, i).await?;
                i += 1;
            }
            Ok::<_, String>(("seq opens/s", i as f64 / t0.elapsed().as_secs_f64()))
        } else {
            let t1 = Instant::now();
            let mut js = tokio::task::JoinSet::new();
            for k in 0..conc as u64 {
                let c = c.clone();
                js.spawn(async move { churn_one(&c, k).await });
            }
            while let Some(r) = js.join_next().await {
                r.map_err(|j| j.to_string())??;
            }
            Ok(("conc opens/s", conc as f64 / t1.elapsed().as_secs_f64()))
        }
    }
    .await;
    // shut both peers down even after a failure, so nothing keeps running
    done(s, c).await;
    let r = r?;
    srv.await.map_err(|j| j.to_string())??;
    Ok(vec![r])
}

/// A bound "server" and a "probe" client that trust each other; further
/// clients share the probe's key (`ckey`) and the trust text (`keys`).
struct SharedKeyServer {
    s: Peer,
    probe: Peer,
    ckey: String,
    keys: String,
    ep: String,
}

async fn shared_key_server() -> Result<SharedKeyServer, String> {
    let ckey = streamkit_core::generate_key();
    let s = keyed_peer("server", &streamkit_core::generate_key())?;
    let probe = keyed_peer("probe", &ckey)?;
    let keys = format!(
        "{}\n{}\n",
        s.public_key().map_err(e("key"))?,
        probe.public_key().map_err(e("key"))?
    );
    for p in [&s, &probe] {
        p.set_option_str(PeerOption::AuthorizedKeys, &keys)
            .map_err(e("trust"))?;
    }
    let ep = s.bind("tcp://127.0.0.1:0").await.map_err(e("bind"))?;
    Ok(SharedKeyServer {
        s,
        probe,
        ckey,
        keys,
        ep,
    })
}

/// A client peer with key `ckey` trusting `keys`, its key parsed (so that
/// is outside any timing).
fn shared_key_client(name: &str, ckey: &str, keys: &str) -> Result<Peer, String> {
    let c = keyed_peer(name, ckey)?;
    c.set_option_str(PeerOption::AuthorizedKeys, keys)
        .map_err(e("trust"))?;
    c.public_key().map_err(e("key"))?;
    Ok(c)
}

/// Scenario 5: connect + key exchange + mutual auth + hello, `n` times; median ms.
pub async fn setup(n: usize) -> Out {
    let SharedKeyServer {
        s, ckey, keys, ep, ..
    } = shared_key_server().await?;
    let mut ms = Vec::new();
    for i in 0..=n {
        let c = shared_key_client(&format!("client{i}"), &ckey, &keys)?;
        let t = Instant::now();
        c.connect(&ep).await.map_err(e("connect"))?;
        let dt = t.elapsed().as_secs_f64() * 1e3;
        if c.peers() != ["server"] {
            return Err(format!(
                "streamkit setup: client sees peers {:?}",
                c.peers()
            ));
        }
        if i > 0 {
            ms.push(dt); // the first one warms up
        }
        let _ = c.shutdown().await;
    }
    let _ = s.shutdown().await;
    Ok(vec![("setup ms", median(&ms))])
}

/// Scenario 8: `nch` channels each moving `per` bytes at once over one
/// connection. Reports aggregate MB/s, peak RSS growth and idle memory per channel.
pub async fn many(nch: usize, per: u64) -> Out {
    let (s, c) = pair("tcp").await?;
    // warm the connection and the allocator with one channel
    let (a, b) = open_pair(&s, &c, "warm").await?;
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rss0 = rss_bytes();
    LIVE.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let mut pairs = Vec::with_capacity(nch);
    let acc = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut v = Vec::with_capacity(nch);
            for _ in 0..nch {
                v.push(s.accept().await.map_err(e("accept"))?);
            }
            Ok::<_, String>(v)
        })
    };
    let mut opened = Vec::with_capacity(nch);
    for _ in 0..nch {
        opened.push(c.open("server", "many", &[]).await.map_err(e("open"))?);
    }
    let accepted = acc.await.map_err(|j| j.to_string())??;
    // pair them by id (the ids match across the connection)
    let mut by_id: std::collections::HashMap<u64, Channel> =
        accepted.into_iter().map(|ch| (ch.id(), ch)).collect();
    for a in opened {
        let b = by_id
            .remove(&a.id())
            .ok_or("streamkit many: accepted channel ids do not match opened ones")?;
        pairs.push((a, b));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    COUNTING.store(false, Ordering::Relaxed);
    let idle_heap = LIVE.load(Ordering::Relaxed).max(0) as f64 / nch as f64 / 1024.0;
    let sampler = RssSampler::start();
    let t0 = Instant::now();
    let mut js = tokio::task::JoinSet::new();
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        let start = (i as u64) * 7919;
        js.spawn(send_pattern(a, start, per));
        js.spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let got = recv_pattern(&b, start, &mut buf).await?;
            if got != per {
                return Err(format!(
                    "streamkit many: channel {i} received {got} bytes, sent {per}"
                ));
            }
            Ok(())
        });
    }
    while let Some(r) = js.join_next().await {
        r.map_err(|j| j.to_string())??;
    }
    let dt = t0.elapsed().as_secs_f64();
    let peak = sampler.peak();
    done(s, c).await;
    Ok(vec![
        ("MB/s", (nch as u64 * per) as f64 / dt / 1e6),
        (
            "peak RSS growth MiB",
            peak.saturating_sub(rss0) as f64 / 1048576.0,
        ),
        ("idle heap KiB/channel (both ends)", idle_heap),
    ])
}

/// Raise the descriptor limit to `want` (the hard limit too, where this
/// process may: root); returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_cur < want {
            let mut up = r;
            up.rlim_cur = want;
            up.rlim_max = r.rlim_max.max(want);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) != 0 {
                r.rlim_cur = want.min(r.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            }
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
        r.rlim_cur
    }
}

/// Descriptors scenario 10's server side needs for `n` connections.
pub fn scale_fds(n: usize) -> u64 {
    n as u64 + 256
}

/// Echo round trips on `ch` (its other end echoes frames) until `stop` is
/// set (at least `min` of them); each round trip's µs.
async fn probe_rtts(
    ch: &Channel,
    min: usize,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Vec<f64>, String> {
    let mut v = Vec::new();
    let mut seq = 0u64;
    while v.len() < min || !stop.load(Ordering::Relaxed) {
        let f = frame(seq);
        let t = Instant::now();
        ch.write_frame(&f).await.map_err(e("probe write"))?;
        let got = ch
            .read_frame()
            .await
            .map_err(e("probe read"))?
            .ok_or("streamkit scale: probe channel ended")?;
        v.push(t.elapsed().as_secs_f64() * 1e6);
        check_frame(&got, seq).map_err(|m| format!("streamkit scale probe: {m}"))?;
        seq += 1;
        // a round trip every 200 µs: a steady client, not a flood of its own
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(v)
}

/// Scenario 10: one bound peer, `n` client connections (each a real SSH
/// connection: key exchange, mutual public-key auth, hello), `conc` being
/// set up at a time. Reports handshakes/s, memory per idle connection
/// (heap and RSS of the server alone: the clients run in a child process) and
/// an established channel's round-trip p99 before and during the flood.
pub async fn scale(n: usize, conc: usize) -> Out {
    let limit = raise_nofile(scale_fds(n));
    if limit < scale_fds(n) {
        return Err(format!(
            "streamkit scale: {n} connections need {} descriptors, the limit is {limit} (raise the hard limit: ulimit -Hn)",
            scale_fds(n)
        ));
    }
    let SharedKeyServer {
        s,
        probe,
        ckey,
        keys,
        ep,
    } = shared_key_server().await?;
    probe.connect(&ep).await.map_err(e("connect"))?;
    // the server echoes frames on every channel it accepts
    let echo = {
        let s = s.clone();
        tokio::spawn(async move {
            while let Ok(ch) = s.accept().await {
                tokio::spawn(async move {
                    while let Ok(Some(f)) = ch.read_frame().await {
                        if ch.write_frame(&f).await.is_err() {
                            break;
                        }
                    }
                });
            }
        })
    };
    let pch = probe
        .open("server", "probe", &[])
        .await
        .map_err(e("open"))?;
    let never = std::sync::atomic::AtomicBool::new(true);
    let mut idle = probe_rtts(&pch, 2000, &never).await?;
    // The clients run in a child process (this binary again, see
    // `scale_clients`): the server's memory is then measured alone, and
    // each process needs only one descriptor per connection.
    let exe = std::env::current_exe().map_err(|x| format!("streamkit scale: {x}"))?;
    let mut child = tokio::process::Command::new(exe)
        .arg(SCALE_CLIENTS_ARG)
        .args([ep.as_str(), &n.to_string(), &conc.to_string()])
        .env("SKB_CLIENT_KEY", &ckey)
        .env("SKB_KEYS", &keys)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|x| format!("streamkit scale: starting the client process: {x}"))?;
    let mut to_child = child.stdin.take().ok_or("streamkit scale: no stdin")?;
    let mut from_child =
        tokio::io::BufReader::new(child.stdout.take().ok_or("streamkit scale: no stdout")?);
    let expect = |line: String, want: &str| -> Result<(), String> {
        if line.trim() == want {
            Ok(())
        } else {
            Err(format!(
                "streamkit scale: the client process said {:?}, not {want:?}",
                line.trim()
            ))
        }
    };
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut line = String::new();
    from_child
        .read_line(&mut line)
        .await
        .map_err(|x| x.to_string())?;
    expect(std::mem::take(&mut line), "ready")?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss0 = rss_bytes();
    LIVE.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = Instant::now();
    to_child
        .write_all(b"go\n")
        .await
        .map_err(|x| x.to_string())?;
    let (during, done) = tokio::join!(probe_rtts(&pch, 1, &stop), async {
        let r = from_child.read_line(&mut line).await;
        stop.store(true, Ordering::Relaxed);
        r.map_err(|x| x.to_string())
            .and_then(|_| expect(std::mem::take(&mut line), "connected"))
    });
    let dt = t0.elapsed().as_secs_f64();
    let mut during = during?;
    done?;
    // every client is connected: wait for the server to list them all
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.peers().len() < n + 1 {
        if Instant::now() > deadline {
            return Err(format!(
                "streamkit scale: the server lists {} of {} peers",
                s.peers().len(),
                n + 1
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    COUNTING.store(false, Ordering::Relaxed);
    let heap = LIVE.load(Ordering::Relaxed).max(0) as f64 / n as f64 / 1024.0;
    let rss = rss_bytes().saturating_sub(rss0) as f64 / n as f64 / 1024.0;
    idle.sort_by(f64::total_cmp);
    during.sort_by(f64::total_cmp);
    let (p99_idle, p99_flood) = (quantile(&idle, 0.99), quantile(&during, 0.99));
    drop(pch);
    drop(to_child); // the client process shuts its peers down and exits
    let st = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .map_err(|_| "streamkit scale: the client process did not exit".to_string())?
        .map_err(|x| x.to_string())?;
    if !st.success() {
        return Err(format!(
            "streamkit scale: the client process exited with {st}"
        ));
    }
    let _ = probe.shutdown().await;
    let _ = s.shutdown().await;
    echo.abort();
    Ok(vec![
        ("handshakes/s", n as f64 / dt),
        ("server heap KiB/connection", heap),
        ("server RSS KiB/connection", rss),
        ("probe RTT p99 µs, idle", p99_idle),
        ("probe RTT p99 µs, during the flood", p99_flood),
        ("p99 during ÷ idle", p99_flood / p99_idle),
    ])
}

/// The argument that makes this binary scenario 10's client process.
pub const SCALE_CLIENTS_ARG: &str = "--scale-clients";

/// Scenario 10's client process: `--scale-clients ENDPOINT N CONC`, the
/// client key and authorized keys in SKB_CLIENT_KEY and SKB_KEYS. Makes N
/// client peers and says "ready"; on "go" connects them, CONC at a time,
/// and says "connected"; at the end of stdin shuts them down. Exit 1 on
/// any failure (with the reason on stderr).
pub async fn scale_clients(args: &[String]) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let [ep, n, conc] = args else {
        return Err(format!("usage: {SCALE_CLIENTS_ARG} ENDPOINT N CONC"));
    };
    let n: usize = n.parse().map_err(|_| format!("not a count: {n}"))?;
    let conc: usize = conc.parse().map_err(|_| format!("not a count: {conc}"))?;
    let ckey = std::env::var("SKB_CLIENT_KEY").map_err(|_| "SKB_CLIENT_KEY is not set")?;
    let keys = std::env::var("SKB_KEYS").map_err(|_| "SKB_KEYS is not set")?;
    let limit = raise_nofile(n as u64 + 256);
    if limit < n as u64 + 256 {
        return Err(format!(
            "{n} connections need {} descriptors, the limit is {limit}",
            n + 256
        ));
    }
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(shared_key_client(&format!("c{i}"), &ckey, &keys)?);
    }
    let clients = std::sync::Arc::new(clients);
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    println!("ready");
    match stdin.next_line().await {
        Ok(Some(l)) if l == "go" => {}
        _ => return Ok(()), // the measuring side gave up
    }
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let mut js = tokio::task::JoinSet::new();
    for _ in 0..conc {
        let (clients, ep, next) = (clients.clone(), ep.clone(), next.clone());
        js.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = clients.get(i) else {
                    return Ok::<_, String>(());
                };
                c.connect(&ep).await.map_err(e("connect"))?;
            }
        });
    }
    while let Some(x) = js.join_next().await {
        x.map_err(|j| j.to_string())??;
    }
    println!("connected");
    while let Ok(Some(_)) = stdin.next_line().await {}
    for c in clients.iter() {
        let _ = c.shutdown().await;
    }
    Ok(())
}
