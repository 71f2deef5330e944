//! HELLO rules of docs/PROTOCOL.md §5.1 and §5.2, checked with a raw SSH
//! client against an in-process peer: a second HELLO is ignored whatever its
//! fields say and wherever it arrives; an OPEN before the client's HELLO
//! closes the connection, on any SSH channel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use bytes::Bytes;
use std::time::Duration;
use streamkit_core::proto::{Ctl, EXT_CONTROL};
use streamkit_reliability::rawssh;
use streamkit_reliability::*;

const LIVENESS: Duration = Duration::from_secs(30);
const FRAME: &[u8] = b"\x00\x00\x00\x04pong";

fn bad_hello() -> Bytes {
    // every field invalid for a first HELLO: version, name, window
    Ctl::Hello {
        version: 9,
        name: "eve".into(),
        window: 0,
    }
    .encode()
}

/// A second HELLO with a wrong version, another name and a zero window, on
/// the control channel and in the middle of a streamkit channel, changes
/// nothing: the channel keeps echoing and new channels still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_second_hello_is_ignored() {
    let s = peer("server");
    let key = streamkit_core::generate_key();
    trust_all(&[&s], &[public_of(&key)]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_echo_server(&s);
    let addr = ep.trim_start_matches("tcp://").to_string();
    let mut raw = rawssh::connect(&addr, "mallory", &key).await.unwrap();
    raw.hello("mallory", 256 * 1024).await.unwrap();

    // on the control channel
    let control = raw.control.as_ref().unwrap();
    control
        .extended_data_bytes(EXT_CONTROL, bad_hello())
        .await
        .unwrap();

    // in the middle of an open streamkit channel: frame, HELLO, frame
    let w = raw.open_ssh().await.unwrap();
    let ch = w.id();
    w.extended_data_bytes(EXT_CONTROL, rawssh::open_msg(1, "echo"))
        .await
        .unwrap();
    w.data_bytes(Bytes::from_static(FRAME)).await.unwrap();
    w.extended_data_bytes(EXT_CONTROL, bad_hello())
        .await
        .unwrap();
    w.data_bytes(Bytes::from_static(FRAME)).await.unwrap();
    let both = raw
        .wait_for(LIVENESS, |r| {
            r.gone || r.data.get(&ch).is_some_and(|d| d.len() >= 2 * FRAME.len())
        })
        .await;
    assert!(
        !raw.gone,
        "the server dropped the connection after a second HELLO"
    );
    assert!(both, "the channel stopped echoing after a HELLO on it");
    assert_eq!(raw.data[&ch], [FRAME, FRAME].concat());
    assert_eq!(raw.close_code(ch), None, "a HELLO on a channel closed it");

    // a new channel still opens and echoes; the name is unchanged
    let w2 = raw.open_ssh().await.unwrap();
    let ch2 = w2.id();
    w2.extended_data_bytes(EXT_CONTROL, rawssh::open_msg(3, "echo"))
        .await
        .unwrap();
    w2.data_bytes(Bytes::from_static(FRAME)).await.unwrap();
    let ok = raw
        .wait_for(LIVENESS, |r| {
            r.gone || r.data.get(&ch2).is_some_and(|d| d.len() >= FRAME.len())
        })
        .await;
    assert!(ok && !raw.gone, "no echo on a new channel after the HELLOs");
    assert_eq!(s.peers(), vec!["mallory".to_string()]);
    s.shutdown().await.unwrap();
}

/// An OPEN sent before any HELLO, on an SSH channel that is not (and will
/// not become) the control channel, closes the whole connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_before_hello_closes_the_connection() {
    let s = peer("server");
    let key = streamkit_core::generate_key();
    trust_all(&[&s], &[public_of(&key)]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_echo_server(&s);
    let addr = ep.trim_start_matches("tcp://").to_string();
    let mut raw = rawssh::connect(&addr, "mallory", &key).await.unwrap();
    let w = raw.open_ssh().await.unwrap();
    w.extended_data_bytes(EXT_CONTROL, rawssh::open_msg(1, "echo"))
        .await
        .unwrap();
    let gone = raw.wait_for(LIVENESS, |r| r.gone).await;
    assert!(gone, "the connection survived an OPEN before HELLO");
    assert!(s.peers().is_empty());
    s.shutdown().await.unwrap();
}
