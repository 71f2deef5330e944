//! A failed HELLO exchange is permanent (docs/PROTOCOL.md §5.2): a server
//! that answers the client's HELLO with DISCONNECT reason 11 makes the
//! initial connect fail at once with a protocol error naming the server's
//! description, instead of retrying until CONNECT_TIMEOUT. A server that
//! closes with "peer shut down" is going away, not refusing: retried.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use russh::server::{self, Auth, Msg, Session};
use russh::{Channel, ChannelId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use streamkit_core::{ErrorKind, PeerOption};
use streamkit_reliability::*;

/// Accepts any key, then disconnects with `why` when the HELLO arrives.
struct Refuser {
    why: &'static str,
}

impl server::Handler for Refuser {
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
        _channel: Channel<Msg>,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn extended_data(
        &mut self,
        _channel: ChannelId,
        _code: u32,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.disconnect(russh::Disconnect::ByApplication, self.why, "")?;
        Ok(())
    }
}

/// A refusing server on a loopback port; counts the connections it got.
async fn refuser(why: &'static str) -> (String, Arc<AtomicUsize>) {
    let host = russh::keys::decode_secret_key(&streamkit_core::generate_key(), None).unwrap();
    let cfg = Arc::new(server::Config {
        keys: vec![host.clone()],
        ..Default::default()
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            n2.fetch_add(1, Ordering::SeqCst);
            let cfg = cfg.clone();
            tokio::spawn(async move {
                if let Ok(r) = server::run_stream(cfg, s, Refuser { why }).await {
                    let _ = r.await;
                }
            });
        }
    });
    let line = host.public_key().to_openssh().unwrap();
    (format!("tcp://{addr}|{line}"), n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_hello_fails_connect_at_once() {
    let (ep_key, count) = refuser("unsupported protocol version 1").await;
    let (ep, key) = ep_key.split_once('|').unwrap();
    let c = peer("client");
    c.set_option_str(PeerOption::AuthorizedKeys, key).unwrap();
    c.set_option_int(PeerOption::ConnectTimeout, 60_000)
        .unwrap();
    c.set_option_int(PeerOption::ReconnectInterval, 50).unwrap();
    let t0 = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(30), c.connect(ep))
        .await
        .expect("connect should fail at once, not wait for CONNECT_TIMEOUT")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.to_string()
            .contains("refused the hello exchange: unsupported protocol version 1"),
        "{e}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "no retry after a refused HELLO"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_shutting_down_during_hello_is_retried() {
    let (ep_key, count) = refuser("peer shut down").await;
    let (ep, key) = ep_key.split_once('|').unwrap();
    let c = peer("client");
    c.set_option_str(PeerOption::AuthorizedKeys, key).unwrap();
    c.set_option_int(PeerOption::ConnectTimeout, 1_000).unwrap();
    c.set_option_int(PeerOption::ReconnectInterval, 20).unwrap();
    let e = c.connect(ep).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("peer shut down"), "{e}");
    assert!(count.load(Ordering::SeqCst) >= 2, "retried");
}
