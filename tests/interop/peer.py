"""Python side of the cross-language test (tests/interop).

A streamkit peer that binds or connects, then opens or accepts one channel
and runs the exchange described in README.md against the Go peer
(goapp). Uses the `streamkit` Python package from bindings/python.

    python peer.py --key K --authorized PUB (--bind EP | --connect) \
        --endpoint-file F --role open|accept
"""

import argparse
import os
import sys
import time

import streamkit

LANG = "py"


def fail(msg):
    print(f"peer.py: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def frames():
    return [b"hello", b"", bytes([0, 1, 2, 253, 254, 255]) * 50000, b"last"]


def wait_for(what, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def opener(peer, remote, remote_lang):
    ch = peer.open(remote, "interop", [f"lang={LANG}", "case=frames"])
    if ch.meta.remote_peer != remote or ch.meta.service != "interop":
        fail(f"meta: {ch.meta.remote_peer!r} {ch.meta.service!r}")
    sent = frames()
    for f in sent:
        ch.write_frame(f)
    ch.write_error(f"err-from-{LANG}".encode())
    ch.write_trailers(["status=ok", f"from={LANG}"])
    ch.close_write()
    for i, f in enumerate(sent):
        got = ch.read_frame(timeout=30)
        want = f"{remote_lang}:".encode() + f
        if got != want:
            fail(f"reply {i}: got {None if got is None else len(got)} bytes, want {len(want)}")
    end = ch.read_frame(timeout=30)
    if end is not None:
        fail(f"expected end of stream, got {end!r}")
    e = ch.read_error(timeout=30)
    if e != f"err-from-{remote_lang}".encode():
        fail(f"error frame {e!r}")
    if ch.read_error(timeout=30) is not None:
        fail("expected end of the error stream")
    want = ["status=done", f"from={remote_lang}"]
    if list(ch.meta.trailers) != want:
        fail(f"trailers {ch.meta.trailers!r}, want {want!r}")
    ch.close()


def acceptor(peer, remote, remote_lang):
    ch = peer.accept(timeout=30)
    meta = ch.meta
    if meta.service != "interop" or meta.remote_peer != remote:
        fail(f"meta: {meta.service!r} {meta.remote_peer!r}")
    if list(meta.headers) != [f"lang={remote_lang}", "case=frames"]:
        fail(f"headers {meta.headers!r}")
    n = 0
    while True:
        f = ch.read_frame(timeout=30)
        if f is None:
            break
        ch.write_frame(f"{LANG}:".encode() + f)
        n += 1
    if n != len(frames()):
        fail(f"got {n} frames, want {len(frames())}")
    e = ch.read_error(timeout=30)
    if e != f"err-from-{remote_lang}".encode():
        fail(f"error frame {e!r}")
    want = ["status=ok", f"from={remote_lang}"]
    if list(ch.meta.trailers) != want:
        fail(f"trailers {ch.meta.trailers!r}, want {want!r}")
    ch.write_error(f"err-from-{LANG}".encode())
    ch.write_trailers(["status=done", f"from={LANG}"])
    ch.close_write()
    # Wait until the opener has read everything and shut down.
    wait_for("the opener to disconnect", lambda: not peer.peers())
    ch.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--authorized", required=True)
    ap.add_argument("--name", default="py-peer")
    ap.add_argument("--remote", default="go-peer")
    ap.add_argument("--remote-lang", default="go")
    ap.add_argument("--bind")
    ap.add_argument("--connect", action="store_true")
    ap.add_argument("--endpoint-file", required=True)
    ap.add_argument("--role", choices=["open", "accept"], default="accept")
    a = ap.parse_args()

    with open(a.key) as f:
        key = f.read()
    with open(a.authorized) as f:
        authorized = f.read()
    peer = streamkit.Peer(name=a.name, private_key=key, authorized_keys=authorized,
                          connect_timeout=20)
    if a.bind:
        bound = peer.bind(a.bind)
        tmp = a.endpoint_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(bound)
        os.rename(tmp, a.endpoint_file)
        print(f"peer.py: bound {bound}", file=sys.stderr, flush=True)
    elif a.connect:
        wait_for("the endpoint file", lambda: os.path.exists(a.endpoint_file))
        with open(a.endpoint_file) as f:
            ep = f.read()
        peer.connect(ep)
        print(f"peer.py: connected to {ep}", file=sys.stderr, flush=True)
    else:
        fail("need --bind or --connect")

    wait_for("a peer", lambda: len(peer.peers()) > 0)
    if peer.peers() != [a.remote]:
        fail(f"peers = {peer.peers()!r}, want [{a.remote!r}]")
    if a.role == "open":
        opener(peer, a.remote, a.remote_lang)
    else:
        acceptor(peer, a.remote, a.remote_lang)
    peer.shutdown()
    print(f"peer.py: OK {a.role}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
