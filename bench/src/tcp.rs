//! Raw tokio TCP baselines (the floor): no encryption, no framing beyond a
//! 4-byte length for the echo.

use crate::util::*;
use crate::Out;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn e(ctx: &'static str) -> impl Fn(std::io::Error) -> String {
    move |err| format!("tcp {ctx}: {err}")
}

async fn pair() -> Result<(TcpStream, TcpStream), String> {
    let l = TcpListener::bind("127.0.0.1:0").await.map_err(e("bind"))?;
    let addr = l.local_addr().map_err(e("addr"))?;
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    let c = c.map_err(e("connect"))?;
    let (s, _) = s.map_err(e("accept"))?;
    c.set_nodelay(true).map_err(e("nodelay"))?;
    s.set_nodelay(true).map_err(e("nodelay"))?;
    Ok((c, s))
}

/// Scenario 1: `total` bytes in 64 KiB writes, verified on receipt.
pub async fn bulk(total: u64) -> Out {
    let (mut c, mut s) = pair().await?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let w = tokio::spawn(async move {
        let mut off = 0u64;
        while off < total {
            let n = (total - off).min(WRITE as u64) as usize;
            c.write_all(&expected(off, n)).await.map_err(e("write"))?;
            off += n as u64;
        }
        c.shutdown().await.map_err(e("shutdown"))
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut v = Verifier::default();
    loop {
        let n = s.read(&mut buf).await.map_err(e("read"))?;
        if n == 0 {
            break;
        }
        v.check(&buf[..n]).map_err(|m| format!("tcp: {m}"))?;
    }
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    w.await.map_err(|j| j.to_string())??;
    if v.off != total {
        return Err(format!("tcp bulk: received {} bytes, sent {total}", v.off));
    }
    Ok(vec![("MB/s", total as f64 / dt / 1e6), ("CPU s", cpu)])
}

/// Scenario 3: 4-byte length + 64-byte payload echoed back.
pub async fn rtt(warm: usize, n: usize) -> Out {
    let (mut c, mut s) = pair().await?;
    let echo = tokio::spawn(async move {
        let mut b = [0u8; 4 + FRAME];
        loop {
            match s.read_exact(&mut b).await {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(err) => return Err(format!("tcp echo read: {err}")),
            }
            s.write_all(&b).await.map_err(e("echo write"))?;
        }
    });
    let mut lat = Vec::with_capacity(n);
    let mut out = [0u8; 4 + FRAME];
    let mut back = [0u8; 4 + FRAME];
    out[..4].copy_from_slice(&(FRAME as u32).to_be_bytes());
    for i in 0..(warm + n) as u64 {
        let t = Instant::now();
        out[4..].copy_from_slice(&frame(i));
        c.write_all(&out).await.map_err(e("write"))?;
        c.read_exact(&mut back).await.map_err(e("read"))?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        if back[..4] != out[..4] {
            return Err("tcp echo: bad length prefix".into());
        }
        check_frame(&back[4..], i).map_err(|m| format!("tcp echo: {m}"))?;
        if i as usize >= warm {
            lat.push(us);
        }
    }
    drop(c);
    echo.await.map_err(|j| j.to_string())??;
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok(vec![
        ("p50 µs", quantile(&lat, 0.5)),
        ("p99 µs", quantile(&lat, 0.99)),
    ])
}
