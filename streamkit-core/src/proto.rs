//! The streamkit wire messages, sans I/O (no tokio): encoders and decoders
//! for the control stream described in docs/PROTOCOL.md.
//!
//! Every control message is `uint32 length || byte type || body`, where
//! `length` counts the type byte and the body. Strings are SSH strings
//! (`uint32 length || bytes`, UTF-8). Integers are big-endian.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Protocol version carried in HELLO and OPEN.
pub const VERSION: u8 = 1;
/// SSH extended-data type code of the error-frame stream.
pub const EXT_ERRORS: u32 = 1;
/// SSH extended-data type code of the streamkit control stream.
pub const EXT_CONTROL: u32 = 2;
/// Largest control message accepted (type byte + body).
pub const MAX_CONTROL_LEN: usize = 1024 * 1024;
/// Most headers or trailers in one message.
pub const MAX_LIST_ITEMS: usize = 4096;
/// Most trailer bytes (sum of 4 + length over the strings) one side of a
/// channel sends, and keeps from the other side, over the channel's life.
pub const MAX_TRAILER_BYTES: usize = 512 * 1024;

/// Message type codes.
pub mod ty {
    /// Connection hello: version, name, receive window.
    pub const HELLO: u8 = 0x01;
    /// Open a streamkit channel on this SSH channel.
    pub const OPEN: u8 = 0x02;
    /// Grant send credit to the other side.
    pub const CREDIT: u8 = 0x03;
    /// Trailers (key=value strings).
    pub const TRAILERS: u8 = 0x04;
    /// Half-close: no more data or error frames from this side.
    pub const FIN: u8 = 0x05;
    /// Close the streamkit channel (the SSH channel stays open for reuse).
    pub const CLOSE: u8 = 0x06;
}

/// A decoded control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ctl {
    /// Sent once in each direction on the first SSH channel after authentication.
    Hello {
        /// Protocol version.
        version: u8,
        /// The sender's peer name.
        name: String,
        /// The initial send credit the sender grants per stream of every channel.
        window: u32,
    },
    /// Starts a streamkit channel.
    Open {
        /// Protocol version.
        version: u8,
        /// Connection-unique channel id chosen by the opener (never 0).
        id: u64,
        /// Id of the parent channel, 0 for a top-level channel.
        parent: u64,
        /// Service name.
        service: String,
        /// Headers.
        headers: Vec<String>,
    },
    /// More send credit for stream 0 (data) or 1 (errors).
    Credit {
        /// 0 = data stream, 1 = error stream.
        stream: u8,
        /// Bytes granted.
        bytes: u32,
    },
    /// Trailers.
    Trailers(Vec<String>),
    /// Half-close.
    Fin,
    /// Close, with a code (0 = normal) and a reason.
    Close {
        /// 0 normal, 1 refused, 2 protocol error, 3 shutdown.
        code: u32,
        /// Human-readable reason.
        reason: String,
    },
}

/// Close codes.
pub mod close_code {
    /// Normal close by the application.
    pub const NORMAL: u32 = 0;
    /// The open was refused (backlog full, unknown parent, too many channels).
    pub const REFUSED: u32 = 1;
    /// The other side broke the protocol on this channel.
    pub const PROTOCOL: u32 = 2;
    /// The peer is shutting down.
    pub const SHUTDOWN: u32 = 3;
}

/// Why a control message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_u32(s.len() as u32);
    b.put_slice(s.as_bytes());
}

fn put_list(b: &mut BytesMut, l: &[String]) {
    b.put_u32(l.len() as u32);
    for s in l {
        put_str(b, s);
    }
}

impl Ctl {
    /// Encode with its length prefix.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        b.put_u32(0);
        match self {
            Ctl::Hello {
                version,
                name,
                window,
            } => {
                b.put_u8(ty::HELLO);
                b.put_u8(*version);
                put_str(&mut b, name);
                b.put_u32(*window);
            }
            Ctl::Open {
                version,
                id,
                parent,
                service,
                headers,
            } => {
                b.put_u8(ty::OPEN);
                b.put_u8(*version);
                b.put_u64(*id);
                b.put_u64(*parent);
                put_str(&mut b, service);
                put_list(&mut b, headers);
            }
            Ctl::Credit { stream, bytes } => {
                b.put_u8(ty::CREDIT);
                b.put_u8(*stream);
                b.put_u32(*bytes);
            }
            Ctl::Trailers(l) => {
                b.put_u8(ty::TRAILERS);
                put_list(&mut b, l);
            }
            Ctl::Fin => b.put_u8(ty::FIN),
            Ctl::Close { code, reason } => {
                b.put_u8(ty::CLOSE);
                b.put_u32(*code);
                put_str(&mut b, reason);
            }
        }
        let len = (b.len() - 4) as u32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        b.freeze()
    }

    /// Decode one message body (type byte first, without the length prefix).
    pub fn decode(mut body: &[u8]) -> Result<Ctl, DecodeError> {
        let err = |m: &str| DecodeError(m.to_string());
        if body.is_empty() {
            return Err(err("empty control message"));
        }
        let t = body.get_u8();
        let r = &mut body;
        let msg = match t {
            ty::HELLO => Ctl::Hello {
                version: get_u8(r)?,
                name: get_str(r)?,
                window: get_u32(r)?,
            },
            ty::OPEN => Ctl::Open {
                version: get_u8(r)?,
                id: get_u64(r)?,
                parent: get_u64(r)?,
                service: get_str(r)?,
                headers: get_list(r)?,
            },
            ty::CREDIT => Ctl::Credit {
                stream: get_u8(r)?,
                bytes: get_u32(r)?,
            },
            ty::TRAILERS => Ctl::Trailers(get_list(r)?),
            ty::FIN => Ctl::Fin,
            ty::CLOSE => Ctl::Close {
                code: get_u32(r)?,
                reason: get_str(r)?,
            },
            other => {
                return Err(DecodeError(format!(
                    "unknown control message type 0x{other:02x}"
                )))
            }
        };
        if !r.is_empty() {
            return Err(DecodeError(format!(
                "{} trailing bytes after control message",
                r.len()
            )));
        }
        Ok(msg)
    }
}

fn need(r: &[u8], n: usize) -> Result<(), DecodeError> {
    if r.len() < n {
        Err(DecodeError("truncated control message".into()))
    } else {
        Ok(())
    }
}
fn get_u8(r: &mut &[u8]) -> Result<u8, DecodeError> {
    need(r, 1)?;
    Ok(r.get_u8())
}
fn get_u32(r: &mut &[u8]) -> Result<u32, DecodeError> {
    need(r, 4)?;
    Ok(r.get_u32())
}
fn get_u64(r: &mut &[u8]) -> Result<u64, DecodeError> {
    need(r, 8)?;
    Ok(r.get_u64())
}
fn get_str(r: &mut &[u8]) -> Result<String, DecodeError> {
    let n = get_u32(r)? as usize;
    need(r, n)?;
    let s = std::str::from_utf8(&r[..n])
        .map_err(|_| DecodeError("string is not valid UTF-8".into()))?;
    let s = s.to_string();
    r.advance(n);
    Ok(s)
}
fn get_list(r: &mut &[u8]) -> Result<Vec<String>, DecodeError> {
    let n = get_u32(r)? as usize;
    if n > MAX_LIST_ITEMS {
        return Err(DecodeError(format!(
            "list of {n} strings exceeds the limit of {MAX_LIST_ITEMS}"
        )));
    }
    // Every string needs at least 4 bytes, so a lying count fails before allocating.
    need(r, n.saturating_mul(4))?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(get_str(r)?);
    }
    Ok(v)
}

/// Incremental splitter of the control stream into messages.
#[derive(Debug, Default)]
pub struct CtlReader {
    buf: BytesMut,
}

impl CtlReader {
    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received and not yet part of a returned message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_msg(&mut self) -> Result<Option<Ctl>, DecodeError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_CONTROL_LEN {
            return Err(DecodeError(format!(
                "control message of {len} bytes exceeds the limit of {MAX_CONTROL_LEN}"
            )));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        self.buf.advance(4);
        let body = self.buf.split_to(len);
        Ctl::decode(&body).map(Some)
    }
}

/// Encode a frame header (4-byte big-endian length).
pub fn frame_header(len: usize) -> [u8; 4] {
    (len as u32).to_be_bytes()
}

/// Decode a frame header: the payload length that follows it.
pub fn frame_len(header: [u8; 4]) -> usize {
    u32::from_be_bytes(header) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn roundtrip_all() {
        let msgs = vec![
            Ctl::Hello {
                version: 1,
                name: "alice".into(),
                window: 262144,
            },
            Ctl::Open {
                version: 1,
                id: 3,
                parent: 0,
                service: "echo".into(),
                headers: vec!["a=b,c".into(), "k= v=w".into(), "ключ=значение".into()],
            },
            Ctl::Credit {
                stream: 1,
                bytes: 65536,
            },
            Ctl::Trailers(vec!["exit-status=0".into()]),
            Ctl::Fin,
            Ctl::Close {
                code: 1,
                reason: "accept backlog full".into(),
            },
        ];
        let mut r = CtlReader::default();
        for m in &msgs {
            let e = m.encode();
            // feed byte by byte to exercise reassembly
            for b in e.iter() {
                r.push(&[*b]);
            }
        }
        for m in &msgs {
            assert_eq!(r.next_msg().unwrap().as_ref(), Some(m));
        }
        assert_eq!(r.next_msg().unwrap(), None);
    }

    #[test]
    fn truncated_and_lying_lengths_fail_cleanly() {
        let e = Ctl::Open {
            version: 1,
            id: 1,
            parent: 0,
            service: "svc".into(),
            headers: vec!["x=y".into()],
        }
        .encode();
        for cut in 5..e.len() {
            assert!(Ctl::decode(&e[4..cut]).is_err(), "cut at {cut}");
        }
        // a header count of 4 billion must not allocate
        let mut body = vec![ty::TRAILERS];
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(Ctl::decode(&body).is_err());
        let mut r = CtlReader::default();
        r.push(&u32::MAX.to_be_bytes());
        assert!(r.next_msg().is_err());
        assert!(Ctl::decode(&[0x7f]).is_err());
    }

    /// The example encodings printed in docs/PROTOCOL.md.
    #[test]
    fn protocol_md_examples() {
        assert_eq!(
            hex(&Ctl::Hello {
                version: 1,
                name: "alice".into(),
                window: 262144
            }
            .encode()),
            "0000000f010100000005616c69636500040000"
        );
        assert_eq!(
            hex(&Ctl::Open {
                version: 1,
                id: 1,
                parent: 0,
                service: "echo".into(),
                headers: vec!["k=v".into()]
            }
            .encode()),
            "00000025020100000000000000010000000000000000000000046563686f00000001000000036b3d76"
        );
        assert_eq!(
            hex(&Ctl::Credit {
                stream: 0,
                bytes: 131072
            }
            .encode()),
            "00000006030000020000"
        );
        assert_eq!(hex(&Ctl::Fin.encode()), "0000000105");
        assert_eq!(
            hex(&Ctl::Close {
                code: 0,
                reason: String::new()
            }
            .encode()),
            "00000009060000000000000000"
        );
    }
}
