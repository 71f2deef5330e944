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

/// Scenario 5: connect + key exchange + mutual auth + hello, `n` times; median ms.
pub async fn setup(n: usize) -> Out {
    let skey = streamkit_core::generate_key();
    let ckey = streamkit_core::generate_key();
    let s = keyed_peer("server", &skey)?;
    let probe = keyed_peer("probe", &ckey)?;
    let keys = format!(
        "{}\n{}\n",
        s.public_key().map_err(e("key"))?,
        probe.public_key().map_err(e("key"))?
    );
    s.set_option_str(PeerOption::AuthorizedKeys, &keys)
        .map_err(e("trust"))?;
    let ep = s.bind("tcp://127.0.0.1:0").await.map_err(e("bind"))?;
    let mut ms = Vec::new();
    for i in 0..=n {
        let c = keyed_peer(&format!("client{i}"), &ckey)?;
        c.set_option_str(PeerOption::AuthorizedKeys, &keys)
            .map_err(e("trust"))?;
        c.public_key().map_err(e("key"))?; // parse the key outside the timing
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
