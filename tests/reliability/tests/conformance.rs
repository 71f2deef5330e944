//! SSH conformance towards stock SSH clients: every channel request that
//! asks for a reply and is not granted gets CHANNEL_FAILURE, and the
//! connection stays up afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use russh::ChannelMsg;
use std::time::Duration;
use streamkit_reliability::rawssh;
use streamkit_reliability::*;

const LIVENESS: Duration = Duration::from_secs(20);

async fn next_reply(ch: &mut russh::Channel<russh::client::Msg>) -> ChannelMsg {
    loop {
        let m = tokio::time::timeout(LIVENESS, ch.wait())
            .await
            .expect("no reply to a want-reply channel request")
            .expect("the SSH channel ended instead of replying");
        if matches!(m, ChannelMsg::Success | ChannelMsg::Failure) {
            return m;
        }
    }
}

/// exec, shell, subsystem, env and pty-req with want-reply each get exactly
/// one CHANNEL_FAILURE (in order), and channels still echo afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn want_reply_requests_get_channel_failure() {
    let s = peer("server");
    let key = streamkit_core::generate_key();
    trust_all(&[&s], &[public_of(&key)]);
    let ep = s.bind("tcp://127.0.0.1:0").await.unwrap();
    spawn_echo_server(&s);
    let addr = ep.trim_start_matches("tcp://").to_string();
    let mut raw = rawssh::connect(&addr, "mallory", &key).await.unwrap();
    raw.hello("mallory", 256 * 1024).await.unwrap();
    let mut ch = tokio::time::timeout(LIVENESS, raw.handle.channel_open_session())
        .await
        .unwrap()
        .unwrap();
    ch.exec(true, "ls").await.unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "exec"
    );
    ch.request_shell(true).await.unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "shell"
    );
    ch.request_subsystem(true, "sftp").await.unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "subsystem"
    );
    ch.set_env(true, "K", "V").await.unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "env"
    );
    ch.request_pty(true, "xterm", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "pty-req"
    );
    // Without want-reply nothing comes back; a later want-reply request is
    // still answered (so the previous ones produced no stray replies).
    ch.exec(false, "ls").await.unwrap();
    ch.set_env(true, "K2", "V").await.unwrap();
    assert!(
        matches!(next_reply(&mut ch).await, ChannelMsg::Failure),
        "env 2"
    );
    // The connection is still up: a fresh SSH channel opens.
    tokio::time::timeout(LIVENESS, raw.handle.channel_open_session())
        .await
        .expect("connection wedged after the requests")
        .unwrap();
    drop(s);
}
