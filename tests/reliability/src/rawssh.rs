//! A raw russh client that authenticates like a streamkit peer and then lets a
//! test write arbitrary bytes on the streamkit control stream (extended data
//! type 2) and data stream of any SSH channel.

use bytes::Bytes;
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelId, ChannelWriteHalf};
use std::sync::Arc;
use std::time::Duration;
use streamkit_core::proto::{Ctl, CtlReader, EXT_CONTROL, VERSION};
use tokio::sync::mpsc;

/// Something the server did on one SSH channel.
#[derive(Debug, Clone)]
pub enum Ev {
    /// Data (ext 0) or extended data (ext != 0).
    Data(ChannelId, u32, Vec<u8>),
    Eof(ChannelId),
    Close(ChannelId),
    /// The server opened an SSH channel towards us.
    ServerOpen(ChannelId),
    /// The SSH session ended.
    Gone,
}

pub struct H {
    tx: mpsc::UnboundedSender<Ev>,
}

impl Drop for H {
    fn drop(&mut self) {
        let _ = self.tx.send(Ev::Gone);
    }
}

impl client::Handler for H {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _k: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }

    async fn data(
        &mut self,
        ch: ChannelId,
        data: &[u8],
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let _ = self.tx.send(Ev::Data(ch, 0, data.to_vec()));
        Ok(())
    }

    async fn extended_data(
        &mut self,
        ch: ChannelId,
        ext: u32,
        data: &[u8],
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let _ = self.tx.send(Ev::Data(ch, ext, data.to_vec()));
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        ch: ChannelId,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let _ = self.tx.send(Ev::Eof(ch));
        Ok(())
    }

    async fn channel_close(
        &mut self,
        ch: ChannelId,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let _ = self.tx.send(Ev::Close(ch));
        Ok(())
    }

    async fn server_channel_open_session(
        &mut self,
        channel: russh::Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _s: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        let _ = self.tx.send(Ev::ServerOpen(channel.id()));
        Ok(())
    }
}

/// An authenticated raw connection.
pub struct Raw {
    pub handle: Arc<client::Handle<H>>,
    pub events: mpsc::UnboundedReceiver<Ev>,
    pub control: Option<ChannelWriteHalf<client::Msg>>,
    /// Control messages the server sent, per SSH channel (decoded).
    pub seen: Vec<(ChannelId, Ctl)>,
    readers: std::collections::HashMap<ChannelId, CtlReader>,
    pub closed: std::collections::HashSet<ChannelId>,
    /// Data-stream bytes received per SSH channel.
    pub data: std::collections::HashMap<ChannelId, Vec<u8>>,
    pub gone: bool,
}

fn config() -> Arc<client::Config> {
    Arc::new(client::Config {
        inactivity_timeout: None,
        ..Default::default()
    })
}

/// TCP connect + SSH handshake only (no authentication).
pub async fn handshake(
    addr: &str,
) -> Result<(client::Handle<H>, mpsc::UnboundedReceiver<Ev>), String> {
    let s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp connect: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let h = client::connect_stream(config(), s, H { tx })
        .await
        .map_err(|e| format!("ssh handshake: {e}"))?;
    Ok((h, rx))
}

/// Connect to `addr` (host:port), authenticate as `user` with `key_text`.
/// Returns Err(message) if authentication is refused.
pub async fn connect(addr: &str, user: &str, key_text: &str) -> Result<Raw, String> {
    let (mut h, rx) = handshake(addr).await?;
    let key = russh::keys::decode_secret_key(key_text, None).map_err(|e| format!("key: {e}"))?;
    let auth = h
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), None))
        .await
        .map_err(|e| format!("auth exchange: {e}"))?;
    if !auth.success() {
        return Err("authentication refused".into());
    }
    Ok(Raw {
        handle: Arc::new(h),
        events: rx,
        control: None,
        seen: Vec::new(),
        readers: Default::default(),
        closed: Default::default(),
        data: Default::default(),
        gone: false,
    })
}

impl Raw {
    /// Open the control channel and exchange HELLO (as `name`, with `window`).
    pub async fn hello(&mut self, name: &str, window: u32) -> Result<(), String> {
        let ch = self.open_ssh().await?;
        let id = ch.id();
        ch.extended_data_bytes(
            EXT_CONTROL,
            Ctl::Hello {
                version: VERSION,
                name: name.into(),
                window,
            }
            .encode(),
        )
        .await
        .map_err(|e| format!("send hello: {e}"))?;
        self.control = Some(ch);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self
                .seen
                .iter()
                .any(|(c, m)| *c == id && matches!(m, Ctl::Hello { .. }))
            {
                return Ok(());
            }
            if self.gone {
                return Err("connection closed during hello".into());
            }
            if !self.pump_until(deadline).await {
                return Err("no HELLO from the server".into());
            }
        }
    }

    /// Open a new SSH session channel; the read half is dropped (events come
    /// through the handler).
    pub async fn open_ssh(&self) -> Result<ChannelWriteHalf<client::Msg>, String> {
        let ch = tokio::time::timeout(Duration::from_secs(5), self.handle.channel_open_session())
            .await
            .map_err(|_| {
                "channel_open_session: no answer within 5 s (connection wedged?)".to_string()
            })?
            .map_err(|e| format!("channel_open_session: {e}"))?;
        let (r, w) = ch.split();
        drop(r);
        Ok(w)
    }

    fn absorb(&mut self, ev: Ev) {
        match ev {
            Ev::Data(ch, 2, d) => {
                let r = self.readers.entry(ch).or_default();
                r.push(&d);
                while let Ok(Some(m)) = r.next_msg() {
                    self.seen.push((ch, m));
                }
            }
            Ev::Data(ch, 0, d) => self.data.entry(ch).or_default().extend_from_slice(&d),
            Ev::Close(ch) => {
                self.closed.insert(ch);
            }
            Ev::Gone => self.gone = true,
            _ => {}
        }
    }

    /// Process one event (or time out at `deadline`): false on timeout.
    pub async fn pump_until(&mut self, deadline: tokio::time::Instant) -> bool {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(ev)) => {
                self.absorb(ev);
                true
            }
            Ok(None) => {
                self.gone = true;
                tokio::time::sleep_until(deadline).await;
                false
            }
            Err(_) => false,
        }
    }

    /// Process every event already queued.
    pub fn pump_now(&mut self) {
        while let Ok(ev) = self.events.try_recv() {
            self.absorb(ev);
        }
    }

    /// Wait until `f(self)` holds, pumping events; false on timeout.
    pub async fn wait_for(&mut self, timeout: Duration, mut f: impl FnMut(&Raw) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if !self.pump_until(deadline).await {
                return f(self);
            }
        }
    }

    /// Control messages seen on SSH channel `ch`.
    pub fn ctl_on(&self, ch: ChannelId) -> Vec<Ctl> {
        self.seen
            .iter()
            .filter(|(c, _)| *c == ch)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The CLOSE code the server sent on `ch`, if any.
    pub fn close_code(&self, ch: ChannelId) -> Option<u32> {
        self.ctl_on(ch).into_iter().find_map(|m| match m {
            Ctl::Close { code, .. } => Some(code),
            _ => None,
        })
    }
}

/// An encoded OPEN.
pub fn open_msg(id: u64, service: &str) -> Bytes {
    Ctl::Open {
        version: VERSION,
        id,
        parent: 0,
        service: service.into(),
        headers: vec![],
    }
    .encode()
}

/// Wrap a raw control body (type byte first) in a correct length prefix.
pub fn framed(body: &[u8]) -> Bytes {
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    Bytes::from(v)
}
