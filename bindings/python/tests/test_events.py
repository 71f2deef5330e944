"""Peer.next_event: connected, disconnected, reconnecting, auth_failed, refused (sync and aio)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Identity, Pair, make_identity

import streamkit
from streamkit import aio
from test_aio import aio_pair


def next_of(p: streamkit.Peer, kind: str) -> streamkit.Event:
    """The next event of `kind` (others skipped); 30 s is a liveness bound only."""
    while True:
        e = p.next_event(timeout=30)
        assert e is not None, f"no {kind} event"
        if e.kind == kind:
            return e


def test_connected_disconnected_reconnecting(tcp_pair: Pair) -> None:
    a, b = tcp_pair.a, tcp_pair.b
    e = next_of(a, "connected")
    assert e.peer == "bob" and e.fingerprint is not None and e.fingerprint.startswith("SHA256:")
    assert e.endpoint is not None and e.endpoint.startswith("tcp://127.0.0.1:")
    assert "connected" in repr(e) and "bob" in repr(e)
    e = next_of(b, "connected")
    assert e.peer == "alice" and e.endpoint == tcp_pair.endpoint
    assert a.next_event(timeout=0) is None  # nothing more: None, not an error
    b.set_option(streamkit.OPT_RECONNECT_INTERVAL, 20)
    a.drop("bob")
    e = next_of(b, "disconnected")
    assert e.reason is not None and "the remote disconnected: dropped" in e.reason
    a.shutdown()
    e = next_of(b, "reconnecting")
    assert e.endpoint == tcp_pair.endpoint and e.attempt is not None and e.attempt >= 1
    assert e.delay is not None and e.delay > 0
    # After shutdown: the events still queued, then None.
    for _ in range(1000):
        if a.next_event(timeout=30) is None:
            break
    assert a.next_event() is None


def test_auth_failed_both_sides(ids: tuple[Identity, Identity]) -> None:
    ia, ib = ids
    a = streamkit.Peer(name="alice", private_key=ia.private_key)
    b = streamkit.Peer(name="bob", private_key=ib.private_key, authorized_keys=ia.public_key, connect_timeout=5)
    try:
        ep = a.bind("tcp://127.0.0.1:0")
        with pytest.raises(streamkit.AuthError):
            b.connect(ep)
        e = next_of(a, "auth_failed")
        assert e.peer == "bob" and e.fingerprint is not None and e.fingerprint.startswith("SHA256:")
        e = next_of(b, "auth_failed")
        assert e.reason is not None and "refused our key" in e.reason
        # The other way: bob does not trust alice's host key.
        a.set_option(streamkit.OPT_AUTHORIZED_KEYS, ib.public_key)
        b.set_option(streamkit.OPT_AUTHORIZED_KEYS, make_identity().public_key)
        with pytest.raises(streamkit.AuthError):
            b.connect(ep)
        e = next_of(b, "auth_failed")
        assert e.reason is not None and "host key" in e.reason and e.endpoint == ep
    finally:
        a.shutdown()
        b.shutdown()


def test_refused_by_accept_backlog(tcp_pair: Pair) -> None:
    tcp_pair.a.set_option(streamkit.OPT_ACCEPT_BACKLOG, 1)
    chans = [tcp_pair.b.open("alice", "x") for _ in range(3)]
    e = next_of(tcp_pair.a, "refused")
    assert e.peer == "bob" and e.reason is not None and "ACCEPT_BACKLOG" in e.reason
    for c in chans:
        c.close()


def test_bad_timeout(tcp_pair: Pair) -> None:
    with pytest.raises(streamkit.InvalidArgument):
        tcp_pair.a.next_event(timeout=-1)


@pytest.mark.asyncio
async def test_aio_events(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, ep):
        e = await asyncio.wait_for(a.next_event(), 30)
        while e is not None and e.kind != "connected":
            e = await asyncio.wait_for(a.next_event(), 30)
        assert e is not None and e.peer == "bob"
        e = await asyncio.wait_for(b.next_event(), 30)
        assert e is not None and e.kind == "connected" and e.endpoint == ep
        # A cancelled wait (nothing queued) loses no later event.
        t = asyncio.ensure_future(b.next_event())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await a.shutdown()
        e = await asyncio.wait_for(b.next_event(), 30)
        assert e is not None and e.kind == "disconnected" and e.peer == "alice"
        while True:
            e = await asyncio.wait_for(a.next_event(), 30)
            if e is None:
                break
