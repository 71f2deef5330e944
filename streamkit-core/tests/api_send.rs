//! Compile-time checks: handles are Send + Sync and every future is Send, so
//! they can be spawned on a multi-thread runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use streamkit_core::{Channel, Peer};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync>() {}

#[test]
fn futures_are_send() {
    is_send_sync::<Peer>();
    is_send_sync::<Channel>();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let p = Peer::new();
    is_send(&p.bind("inproc://x"));
    is_send(&p.connect("inproc://x"));
    is_send(&p.accept());
    is_send(&p.open("a", "b", &[]));
    is_send(&p.shutdown());
    is_send(&p.drop_peer("a"));
    // a channel needs a connection: just name the futures' types through a fn
    fn chan_futures(c: &Channel, buf: &mut [u8]) {
        is_send(&c.read(buf));
        is_send(&c.write(b"x"));
        is_send(&c.write_bytes(bytes::Bytes::new()));
        is_send(&c.write_frame(b"x"));
        is_send(&c.read_frame());
        is_send(&c.read_frame_vec());
        is_send(&c.write_error(b"x"));
        is_send(&c.read_error());
        is_send(&c.close_write());
        is_send(&c.write_trailers(&[]));
        is_send(&c.close());
        is_send(&c.open("s", &[]));
        is_send(&c.accept());
        is_send(&c.join(tokio::io::empty()));
    }
    let _ = chan_futures;
}
