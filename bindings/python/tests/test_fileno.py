"""Peer.fileno / Channel.fileno: level-triggered descriptors for selectors."""

from __future__ import annotations

import select
import selectors

import pytest

from conftest import Pair

import streamkit


def readable(obj: streamkit.Peer | streamkit.Channel, timeout: float = 0) -> bool:
    """select() on obj.fileno(); a timeout > 0 is a liveness bound only."""
    r, _, _ = select.select([obj.fileno()], [], [], timeout)
    return bool(r)


LIVE = 30.0


def test_channel_bytes_frames_errors_and_end(pair: Pair) -> None:
    a, b = pair.a, pair.b
    out = b.open("alice", "fileno")
    ch = a.accept(timeout=LIVE)
    fd = ch.fileno()
    assert isinstance(fd, int) and fd >= 0 and ch.fileno() == fd
    assert not readable(ch)
    with pytest.raises(TimeoutError):
        ch.read(timeout=0)
    out.write(b"hey")
    assert readable(ch, LIVE)
    assert ch.read(1, timeout=0) == b"h"
    assert readable(ch), "two bytes left: still readable"
    assert ch.read(timeout=0) == b"ey"
    assert not readable(ch)
    # A frame reader is woken for whole frames only.
    with pytest.raises(TimeoutError):
        ch.read_frame(timeout=0)
    out.write(b"\0\0\0\x04ab")
    # A probe channel's frame, sent after the half frame, has been read:
    # the half frame has arrived too.
    probe = b.open("alice", "probe")
    p = a.accept(timeout=LIVE)
    probe.write_frame(b"p")
    assert p.read_frame(timeout=LIVE) == b"p"
    assert not readable(ch), "half a frame does not wake a frame reader"
    out.write(b"cd")
    assert readable(ch, LIVE)
    assert ch.read_frame(timeout=0) == b"abcd"
    assert not readable(ch)
    out.write_error(b"bad")
    assert readable(ch, LIVE)
    assert ch.read_error(timeout=0) == b"bad"
    assert not readable(ch)
    out.close_write()
    assert readable(ch, LIVE)
    assert ch.read_frame(timeout=0) is None
    assert readable(ch), "the end stays readable"


def test_peer_with_a_selector_accepts_and_echoes(tcp_pair: Pair) -> None:
    a, b = tcp_pair.a, tcp_pair.b
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, None)  # a Peer is a file object now
    while a.next_event(timeout=0) is not None:  # "connected"
        pass
    assert sel.select(timeout=0) == []
    clients = [b.open("alice", "echo") for _ in range(5)]
    for i, c in enumerate(clients):
        c.write_frame(b"n%d" % i)
        c.close_write()
    served = 0
    while served < len(clients):
        ready = sel.select(timeout=LIVE)
        assert ready, "nothing became readable"
        for key, _ in ready:
            if key.fileobj is a:
                while True:
                    try:
                        ch = a.accept(timeout=0)
                    except TimeoutError:
                        break
                    sel.register(ch, selectors.EVENT_READ, None)
                continue
            assert isinstance(key.fileobj, streamkit.Channel)
            ch = key.fileobj
            while True:
                try:
                    f = ch.read_frame(timeout=0)
                except TimeoutError:
                    break
                if f is None:
                    sel.unregister(ch)
                    ch.close_write()
                    served += 1
                    break
                ch.write_frame(f)
    for i, c in enumerate(clients):
        assert c.read_frame(timeout=LIVE) == b"n%d" % i
        assert c.read_frame(timeout=LIVE) is None
    assert sel.select(timeout=0) == []
    a.shutdown()
    assert readable(a, LIVE), "a shut-down peer's accept fails at once"
    sel.close()
