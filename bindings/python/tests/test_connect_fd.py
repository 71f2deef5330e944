"""Peer.connect_fd / Peer.serve_fd: a connection over a socket the program
made itself (a socketpair here), sync and asyncio, with the usual trust."""

import asyncio
import socket
import threading

import pytest
import streamkit
from streamkit import aio

from conftest import Identity


def peers(ids: tuple[Identity, Identity], trust: bool = True) -> tuple[streamkit.Peer, streamkit.Peer]:
    ia, ib = ids
    a = streamkit.Peer(
        name="alice", private_key=ia.private_key, authorized_keys=ib.public_key if trust else ""
    )
    b = streamkit.Peer(name="bob", private_key=ib.private_key, authorized_keys=ia.public_key)
    return a, b


def serve_in_thread(a: streamkit.Peer, sock: socket.socket) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(a.serve_fd(sock))
        except streamkit.Error as e:
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_socketpair_carries_a_connection(ids: tuple[Identity, Identity]) -> None:
    a, b = peers(ids)
    x, y = socket.socketpair()
    try:
        t, out = serve_in_thread(a, x)
        assert b.connect_fd(y) == "alice"
        t.join(30)
        assert out == ["bob"]
        # Our objects stay ours: closing them does not end the connection.
        x.close()
        y.close()
        assert a.peers() == ["bob"] and b.peers() == ["alice"]
        with b.open("alice", "echo", {"k": "v"}) as cli, a.accept(timeout=10) as srv:
            assert srv.meta.service == "echo" and srv.meta.headers == ["k=v"]
            assert srv.meta.remote_key == ids[1].public_key
            cli.write_frame(b"over a socketpair")
            f = srv.read_frame(timeout=30)
            assert f == b"over a socketpair"
            srv.write_frame(f)
            assert cli.read_frame(timeout=30) == f
        assert b.stats()[0].endpoint == "stream"
    finally:
        a.shutdown()
        b.shutdown()


def test_untrusted_client_is_refused(ids: tuple[Identity, Identity]) -> None:
    a, b = peers(ids, trust=False)
    x, y = socket.socketpair()
    try:
        t, out = serve_in_thread(a, x)
        with pytest.raises(streamkit.AuthError, match="AUTHORIZED_KEYS"):
            b.connect_fd(y.fileno())
        t.join(30)
        assert len(out) == 1 and isinstance(out[0], streamkit.ClosedError), out
        assert a.peers() == [] and b.peers() == []
    finally:
        x.close()
        y.close()
        a.shutdown()
        b.shutdown()


def test_bad_arguments_name_the_parameter(ids: tuple[Identity, Identity]) -> None:
    a, _ = peers(ids)
    try:
        with pytest.raises(TypeError, match="sock_or_fd"):
            a.connect_fd("not a socket")  # type: ignore[arg-type]
        with pytest.raises(streamkit.Error):
            a.serve_fd(10_000)
    finally:
        a.shutdown()


def test_aio_connect_fd_and_serve_fd(ids: tuple[Identity, Identity]) -> None:
    ia, ib = ids

    async def main() -> None:
        a = aio.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key)
        b = aio.Peer(name="bob", private_key=ib.private_key, authorized_keys=ia.public_key)
        x, y = socket.socketpair()
        try:
            served, connected = await asyncio.wait_for(
                asyncio.gather(a.serve_fd(x), b.connect_fd(y)), 60
            )
            assert (served, connected) == ("bob", "alice")
            cli = await b.open("alice", "aio")
            srv = await asyncio.wait_for(a.accept(), 30)
            await cli.write_frame(b"hi")
            assert await asyncio.wait_for(srv.read_frame(), 30) == b"hi"
            await cli.close()
            await srv.close()
        finally:
            x.close()
            y.close()
            await a.shutdown()
            await b.shutdown()

    asyncio.run(main())
