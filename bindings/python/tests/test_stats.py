"""Channel.stats() and Peer.stats(): counts checked against the bytes sent,
stall attribution with a reader that does not read."""

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
import streamkit
from streamkit import aio

from conftest import Identity, Pair
from test_aio import aio_pair, chan_pair
from test_identity import fingerprint


def wait_until(what: str, cond: Callable[[], bool]) -> None:
    """A liveness bound only (60 s): fails on a hang, not on a slow machine."""
    deadline = time.monotonic() + 60
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_counts_match_what_was_sent(pair: Pair, ids: tuple[Identity, Identity]) -> None:
    alice, bob = ids
    with pair.b.open("alice", "count") as cli, pair.a.accept(timeout=10) as srv:
        sizes = [0, 1, 100, 5000, 70_000]
        for n in sizes:
            cli.write_frame(b"x" * n)
        cli.write(b"tail!")
        want = sum(4 + n for n in sizes) + 5
        for n in sizes:
            f = srv.read_frame(timeout=30)
            assert f is not None and len(f) == n
        st = cli.stats()
        assert isinstance(st, streamkit.ChannelStats)
        assert (st.bytes_sent, st.frames_sent, st.bytes_received) == (want, len(sizes), 0)
        wait_until("the receiver counted every byte", lambda: srv.stats().bytes_received == want)
        st = srv.stats()
        assert st.frames_received == len(sizes)
        assert st.recv_buffered == 5, st
        assert srv.read(5, timeout=30) == b"tail!"
        assert srv.stats().recv_buffered == 0
        assert "bytes_sent=" in repr(st)

    conns = pair.b.stats()
    assert len(conns) == 1 and isinstance(conns[0], streamkit.ConnStats)
    c = conns[0]
    assert c.peer == "alice" and c.endpoint == pair.endpoint
    assert c.fingerprint == fingerprint(alice.public_key)
    assert c.bytes_sent >= want
    if pair.transport != "inproc":
        assert c.rtt_ms is not None and c.rtt_ms > 0, c
    s = pair.a.stats()[0]
    assert s.peer == "bob" and s.bytes_received >= want and s.connected_ms >= 0


def test_a_reader_that_does_not_read_is_visible_on_both_sides(ids: tuple[Identity, Identity]) -> None:
    ia, ib = ids
    with streamkit.Peer(
        name="alice", private_key=ia.private_key, authorized_keys=ib.public_key, window_budget=0
    ) as a, streamkit.Peer(
        name="bob", private_key=ib.private_key, authorized_keys=ia.public_key, window_budget=0
    ) as b:
        b.connect(a.bind("tcp://127.0.0.1:0"))
        with b.open("alice", "stall") as cli, a.accept(timeout=10) as srv:
            window = srv.stats().recv_window
            total = window * 3
            writer = threading.Thread(target=cli.write, args=(b"z" * total,))
            writer.start()
            wait_until("the writer waits for credit", lambda: cli.stats().send_blocked_ms > 0)
            wait_until("the reader's window is full", lambda: srv.stats().recv_buffered == window)
            c1, s1 = cli.stats(), srv.stats()
            time.sleep(0.15)  # reads as >= 100 ms on the coarse stall clock
            c2, s2 = cli.stats(), srv.stats()
            assert c2.send_blocked_ms - c1.send_blocked_ms >= 100, (c1, c2)
            assert s2.recv_unread_ms - s1.recv_unread_ms >= 100, (s1, s2)
            assert c2.send_credit == 0 and c2.recv_unread_ms == 0 and s2.send_blocked_ms == 0
            got = 0
            while got < total:
                got += len(srv.read(65536, timeout=30))
            writer.join(30)
            assert not writer.is_alive()
            c3, s3 = cli.stats(), srv.stats()
            time.sleep(0.05)
            assert cli.stats().send_blocked_ms == c3.send_blocked_ms, "no writer waits now"
            assert srv.stats().recv_unread_ms == s3.recv_unread_ms, "nothing is unread now"
            assert srv.stats().bytes_received == total == cli.stats().bytes_sent


@pytest.mark.asyncio
async def test_aio_stats(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, ep), chan_pair(a, b) as (cli, srv):
        await cli.write_frame(b"hello")
        assert await asyncio.wait_for(srv.read_frame(), 30) == b"hello"
        st = cli.stats()
        assert isinstance(st, aio.ChannelStats)
        assert (st.bytes_sent, st.frames_sent) == (9, 1)
        assert srv.stats().frames_received == 1
        conns = b.stats()
        assert [c.peer for c in conns] == ["alice"] and conns[0].endpoint == ep
        assert conns[0].bytes_sent >= 9
