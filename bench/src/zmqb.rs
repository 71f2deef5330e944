//! ZeroMQ baselines through the `zmq` crate (libzmq from the system,
//! Debian's libzmq3-dev). Blocking sockets on two OS threads, default
//! options (high-water marks 1000 messages), one context per run.

use crate::util::*;
use crate::Out;
use std::time::{Duration, Instant};

fn e(ctx: &'static str) -> impl Fn(zmq::Error) -> String {
    move |err| format!("zmq {ctx}: {err}")
}

pub fn version() -> String {
    let (a, b, c) = zmq::version();
    format!("libzmq {a}.{b}.{c}")
}

/// Bind `a` and connect `b`; returns nothing but both are ready.
fn link(
    ctx: &zmq::Context,
    kind: &str,
    a: zmq::SocketType,
    b: zmq::SocketType,
) -> Result<(zmq::Socket, zmq::Socket), String> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let sa = ctx.socket(a).map_err(e("socket"))?;
    let sb = ctx.socket(b).map_err(e("socket"))?;
    let ep = if kind == "inproc" {
        format!(
            "inproc://zb-{}",
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    } else {
        "tcp://127.0.0.1:*".to_string()
    };
    sa.bind(&ep).map_err(e("bind"))?;
    let real = sa
        .get_last_endpoint()
        .map_err(e("endpoint"))?
        .map_err(|_| "zmq endpoint not utf-8".to_string())?;
    sb.connect(&real).map_err(e("connect"))?;
    // Linger long enough that a sender closing right after its last send
    // still delivers everything over tcp (linger 0 would drop queued messages).
    sa.set_linger(2000).map_err(e("linger"))?;
    sb.set_linger(2000).map_err(e("linger"))?;
    Ok((sa, sb))
}

/// Scenario 2/6: 64-byte messages PUSH -> PULL for `secs`; an empty message ends.
pub fn frames(kind: &str, secs: f64) -> Out {
    let ctx = zmq::Context::new();
    let (pull, push) = link(&ctx, kind, zmq::PULL, zmq::PUSH)?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    let w = std::thread::spawn(move || {
        let mut seq = 0u64;
        loop {
            for _ in 0..256 {
                push.send(&frame(seq)[..], 0).map_err(e("send"))?;
                seq += 1;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        push.send(&[][..], 0).map_err(e("send"))?;
        Ok::<u64, String>(seq)
    });
    let mut buf = [0u8; 256];
    let mut n = 0u64;
    loop {
        let k = pull.recv_into(&mut buf, 0).map_err(e("recv"))?;
        if k == 0 {
            break;
        }
        check_frame(&buf[..k.min(buf.len())], n).map_err(|m| format!("zmq: {m}"))?;
        n += 1;
    }
    let dt = t0.elapsed().as_secs_f64();
    let sent = w.join().map_err(|_| "zmq sender panicked".to_string())??;
    if sent != n {
        return Err(format!("zmq frames: received {n}, sent {sent}"));
    }
    Ok(vec![("frames/s", n as f64 / dt)])
}

/// Scenario 6 bulk: `total` bytes as 64 KiB PUSH messages, verified.
pub fn bulk(kind: &str, total: u64) -> Out {
    let ctx = zmq::Context::new();
    let (pull, push) = link(&ctx, kind, zmq::PULL, zmq::PUSH)?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let w = std::thread::spawn(move || {
        let mut off = 0u64;
        while off < total {
            let n = (total - off).min(WRITE as u64) as usize;
            push.send(&expected(off, n)[..], 0).map_err(e("send"))?;
            off += n as u64;
        }
        push.send(&[][..], 0).map_err(e("send"))
    });
    let mut v = Verifier::default();
    let mut msg = zmq::Message::new();
    loop {
        pull.recv(&mut msg, 0).map_err(e("recv"))?;
        if msg.is_empty() {
            break;
        }
        v.check(&msg).map_err(|m| format!("zmq: {m}"))?;
    }
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    w.join().map_err(|_| "zmq sender panicked".to_string())??;
    if v.off != total {
        return Err(format!("zmq bulk: received {} bytes, sent {total}", v.off));
    }
    Ok(vec![("MB/s", total as f64 / dt / 1e6), ("CPU s", cpu)])
}

/// Scenario 3/6: REQ/REP echo of 64-byte messages.
pub fn rtt(kind: &str, warm: usize, n: usize) -> Out {
    let ctx = zmq::Context::new();
    let (rep, req) = link(&ctx, kind, zmq::REP, zmq::REQ)?;
    let echo = std::thread::spawn(move || {
        let mut msg = zmq::Message::new();
        loop {
            rep.recv(&mut msg, 0).map_err(e("echo recv"))?;
            let end = msg.is_empty();
            rep.send(&msg[..], 0).map_err(e("echo send"))?;
            if end {
                return Ok::<(), String>(());
            }
        }
    });
    let mut lat = Vec::with_capacity(n);
    let mut buf = [0u8; 256];
    for i in 0..(warm + n) as u64 {
        let t = Instant::now();
        req.send(&frame(i)[..], 0).map_err(e("send"))?;
        let k = req.recv_into(&mut buf, 0).map_err(e("recv"))?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        check_frame(&buf[..k.min(buf.len())], i).map_err(|m| format!("zmq echo: {m}"))?;
        if i as usize >= warm {
            lat.push(us);
        }
    }
    req.send(&[][..], 0).map_err(e("send"))?;
    req.recv_into(&mut buf, 0).map_err(e("recv"))?;
    echo.join().map_err(|_| "zmq echo panicked".to_string())??;
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok(vec![
        ("p50 µs", quantile(&lat, 0.5)),
        ("p99 µs", quantile(&lat, 0.99)),
    ])
}
