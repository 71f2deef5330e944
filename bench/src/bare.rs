//! The bare-russh baseline: a minimal russh client and server in this
//! process over loopback TCP, with the settings streamkit-core uses
//! (aes128-gcm@openssh.com, 64 MiB SSH window, 65535-byte packets,
//! TCP_NODELAY, ed25519 keys, public-key auth). This is the ceiling of
//! streamkit's dependency: the difference to streamkit is streamkit's own cost.

use crate::util::*;
use crate::Out;
use bytes::Bytes;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::server::{Auth, Msg as ServerMsg, Session as ServerSession};
use russh::{client, server, Channel, ChannelId, ChannelMsg, Preferred};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn preferred() -> Preferred {
    Preferred {
        cipher: Cow::Borrowed(&[russh::cipher::AES_128_GCM]),
        ..Preferred::default()
    }
}

fn key() -> Result<PrivateKey, String> {
    russh::keys::decode_secret_key(&streamkit_core::generate_key(), None)
        .map_err(|e| format!("russh key: {e}"))
}

/// What the server does with incoming channel data.
#[derive(Clone)]
enum Mode {
    /// Verify a byte stream of `total` bytes, report when complete.
    Sink(Arc<Mutex<Sink>>),
    /// Echo every data packet back on its channel.
    Echo,
}

struct Sink {
    v: Verifier,
    total: u64,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

struct Srv {
    mode: Mode,
}

impl server::Handler for Srv {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        _user: &str,
        _key: server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<ServerMsg>,
        reply: server::ChannelOpenHandle,
        _s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        drop(channel); // data then arrives through `data` below
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        s: &mut ServerSession,
    ) -> Result<(), Self::Error> {
        match &self.mode {
            Mode::Echo => s.data(channel, Bytes::copy_from_slice(data))?,
            Mode::Sink(sink) => {
                let mut k = sink.lock().unwrap_or_else(|p| p.into_inner());
                let r = k.v.check(data);
                if r.is_err() || k.v.off >= k.total {
                    if let Some(d) = k.done.take() {
                        let _ = d.send(r.map_err(|m| format!("bare russh: {m}")));
                    }
                }
            }
        }
        Ok(())
    }
}

struct Cli;

impl client::Handler for Cli {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

fn server_config() -> Result<Arc<server::Config>, String> {
    Ok(Arc::new(server::Config {
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(5),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key()?],
        window_size: 64 * 1024 * 1024,
        maximum_packet_size: 65535,
        preferred: preferred(),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    }))
}

fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        window_size: 64 * 1024 * 1024,
        maximum_packet_size: 65535,
        preferred: preferred(),
        nodelay: true,
        inactivity_timeout: None,
        ..Default::default()
    })
}

/// A listening bare-russh server; every connection gets `mode`.
async fn serve(mode: Mode) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), String> {
    let cfg = server_config()?;
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bare russh bind: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let _ = sock.set_nodelay(true);
            let cfg = cfg.clone();
            let h = Srv { mode: mode.clone() };
            tokio::spawn(async move {
                if let Ok(running) = server::run_stream(cfg, sock, h).await {
                    let _ = running.await;
                }
            });
        }
    });
    Ok((addr, task))
}

async fn connect(
    addr: std::net::SocketAddr,
    key: &Arc<PrivateKey>,
) -> Result<client::Handle<Cli>, String> {
    let sock = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("bare russh connect: {e}"))?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut h = client::connect_stream(client_config(), sock, Cli)
        .await
        .map_err(|e| format!("bare russh kex: {e}"))?;
    let ok = h
        .authenticate_publickey("bench", PrivateKeyWithHashAlg::new(key.clone(), None))
        .await
        .map_err(|e| format!("bare russh auth: {e}"))?;
    if !ok.success() {
        return Err("bare russh: authentication refused".into());
    }
    Ok(h)
}

/// Scenario 1: one session channel, `total` bytes in 64 KiB `data_bytes` writes.
pub async fn bulk(total: u64) -> Out {
    let (tx, rx) = oneshot::channel();
    let sink = Arc::new(Mutex::new(Sink {
        v: Verifier::default(),
        total,
        done: Some(tx),
    }));
    let (addr, srv) = serve(Mode::Sink(sink.clone())).await?;
    let key = Arc::new(key()?);
    let h = connect(addr, &key).await?;
    let ch = h
        .channel_open_session()
        .await
        .map_err(|e| format!("bare russh open: {e}"))?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let w = tokio::spawn(async move {
        let mut off = 0u64;
        while off < total {
            let n = (total - off).min(WRITE as u64) as usize;
            ch.data_bytes(expected(off, n))
                .await
                .map_err(|e| format!("bare russh write: {e}"))?;
            off += n as u64;
        }
        Ok::<_, String>(ch)
    });
    rx.await
        .map_err(|_| "bare russh: session ended before all data arrived".to_string())??;
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let ch = w.await.map_err(|j| j.to_string())??;
    let got = sink.lock().unwrap_or_else(|p| p.into_inner()).v.off;
    if got != total {
        return Err(format!(
            "bare russh bulk: received {got} bytes, sent {total}"
        ));
    }
    let _ = ch.close().await;
    let _ = h
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    srv.abort();
    Ok(vec![("MB/s", total as f64 / dt / 1e6), ("CPU s", cpu)])
}

async fn churn_one(h: &client::Handle<Cli>, i: u64) -> Result<(), String> {
    let mut ch = h
        .channel_open_session()
        .await
        .map_err(|e| format!("bare russh open: {e}"))?;
    ch.data_bytes(Bytes::copy_from_slice(&frame(i)))
        .await
        .map_err(|e| format!("bare russh write: {e}"))?;
    let mut got = Vec::new();
    while got.len() < FRAME {
        match ch.wait().await {
            Some(ChannelMsg::Data { data }) => got.extend_from_slice(&data),
            Some(_) => {}
            None => return Err("bare russh churn: channel ended before the echo".into()),
        }
    }
    check_frame(&got, i).map_err(|m| format!("bare russh churn: {m}"))?;
    ch.close()
        .await
        .map_err(|e| format!("bare russh close: {e}"))
}

/// Scenario 4: open session channel + 64-byte data echoed + close,
/// sequentially for `secs` (when `conc` is 0) or `conc` at once.
pub async fn churn(secs: f64, conc: usize) -> Out {
    let (addr, srv) = serve(Mode::Echo).await?;
    let key = Arc::new(key()?);
    let h = Arc::new(connect(addr, &key).await?);
    let r = if conc == 0 {
        let t0 = Instant::now();
        let mut i = 0u64;
        while t0.elapsed().as_secs_f64() < secs {
            churn_one(&h, i).await?;
            i += 1;
        }
        ("seq opens/s", i as f64 / t0.elapsed().as_secs_f64())
    } else {
        let t1 = Instant::now();
        let mut js = tokio::task::JoinSet::new();
        for k in 0..conc as u64 {
            let h = h.clone();
            js.spawn(async move { churn_one(&h, k).await });
        }
        while let Some(r) = js.join_next().await {
            r.map_err(|j| j.to_string())??;
        }
        ("conc opens/s", conc as f64 / t1.elapsed().as_secs_f64())
    };
    let _ = h
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    srv.abort();
    Ok(vec![r])
}

/// Scenario 3: 64-byte data packets echoed by the server on one session channel.
pub async fn rtt(warm: usize, n: usize) -> Out {
    let (addr, srv) = serve(Mode::Echo).await?;
    let key = Arc::new(key()?);
    let h = connect(addr, &key).await?;
    let mut ch = h
        .channel_open_session()
        .await
        .map_err(|e| format!("bare russh open: {e}"))?;
    let mut lat = Vec::with_capacity(n);
    let mut got = Vec::with_capacity(2 * FRAME);
    for i in 0..(warm + n) as u64 {
        let t = Instant::now();
        ch.data_bytes(Bytes::copy_from_slice(&frame(i)))
            .await
            .map_err(|e| format!("bare russh write: {e}"))?;
        got.clear();
        while got.len() < FRAME {
            match ch.wait().await {
                Some(ChannelMsg::Data { data }) => got.extend_from_slice(&data),
                Some(_) => {}
                None => return Err("bare russh echo: channel ended".into()),
            }
        }
        let us = t.elapsed().as_secs_f64() * 1e6;
        check_frame(&got, i).map_err(|m| format!("bare russh echo: {m}"))?;
        if i as usize >= warm {
            lat.push(us);
        }
    }
    let _ = ch.close().await;
    let _ = h
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    srv.abort();
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok(vec![
        ("p50 µs", quantile(&lat, 0.5)),
        ("p99 µs", quantile(&lat, 0.99)),
    ])
}

/// Scenario 5: TCP connect + key exchange + public-key auth + one session
/// channel opened (streamkit's hello also rides on one channel); median ms.
pub async fn setup(n: usize) -> Out {
    let (addr, srv) = serve(Mode::Echo).await?;
    let key = Arc::new(key()?);
    let mut ms = Vec::new();
    for i in 0..=n {
        let t = Instant::now();
        let h = connect(addr, &key).await?;
        let ch = h
            .channel_open_session()
            .await
            .map_err(|e| format!("bare russh open: {e}"))?;
        let dt = t.elapsed().as_secs_f64() * 1e3;
        if i > 0 {
            ms.push(dt);
        }
        drop(ch);
        let _ = h
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
    srv.abort();
    Ok(vec![("setup ms", median(&ms))])
}
