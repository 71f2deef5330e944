"""streamkit.aio: every method, cancellation, timeouts, concurrency, fairness, bad input."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import pytest
from conftest import Identity, endpoint

import streamkit
from streamkit import aio

pytestmark = pytest.mark.asyncio


async def bind_or_skip(peer: aio.Peer, ep: str) -> str:
    try:
        return await peer.bind(ep)
    except streamkit.InvalidArgument as e:
        if ep.startswith("inproc://") and "support" in str(e):
            pytest.skip(f"core does not support inproc: {e}")
        raise


@contextlib.asynccontextmanager
async def aio_pair(
    ids: tuple[Identity, Identity], transport: str = "tcp", short_dir: str = "/tmp"
) -> AsyncIterator[tuple[aio.Peer, aio.Peer, str]]:
    ia, ib = ids
    async with aio.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key) as a, aio.Peer(
        name="bob", private_key=ib.private_key, authorized_keys=ia.public_key, connect_timeout=5
    ) as b:
        ep = await bind_or_skip(a, endpoint(transport, short_dir))
        await b.connect(ep)
        yield a, b, ep


@contextlib.asynccontextmanager
async def chan_pair(a: aio.Peer, b: aio.Peer, service: str = "svc") -> AsyncIterator[tuple[aio.Channel, aio.Channel]]:
    async with await b.open("alice", service, ["k=v"]) as cli, await asyncio.wait_for(a.accept(), 10) as srv:
        yield cli, srv


@pytest.mark.parametrize("transport", ["tcp", "unix", "inproc"])
async def test_frames_trailers_meta(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    async with aio_pair(ids, transport, short_dir) as (a, b, ep):
        assert ep.startswith(transport + "://")
        assert a.peers() == ["bob"] and b.peers() == ["alice"]
        assert b.next_peer() == "alice"
        assert a.name == "alice" and a.public_key.startswith("ssh-ed25519 ")
        async with await b.open("alice", "echo", {"x": "1"}) as cli:
            srv = await asyncio.wait_for(a.accept(), 10)
            assert isinstance(srv, aio.Channel) and isinstance(srv.meta, aio.ChannelMeta)
            assert (srv.meta.service, srv.meta.headers) == ("echo", ["x=1"])
            assert (srv.meta.local_peer, srv.meta.remote_peer) == ("alice", "bob")
            assert (cli.meta.local_peer, cli.meta.remote_peer) == ("bob", "alice")
            await cli.write_frame(b"hello")
            await cli.write_frame(bytearray(b"ba"))
            await cli.write_frame(memoryview(b"xmv")[1:])
            assert await srv.read_frame() == b"hello"
            assert await srv.read_frame() == b"ba"
            assert await srv.read_frame() == b"mv"
            await srv.write_trailers(["status=0"])
            await srv.close_write()
            assert await cli.read_frame() is None
            assert cli.meta.trailers == ["status=0"]
            assert not cli.closed
            await srv.close()
        for _ in range(500):  # both sides closed: the channel has fully ended
            if cli.closed:
                break
            await asyncio.sleep(0.01)
        assert cli.closed
        assert "Channel" in repr(cli) and "alice" in repr(a)


async def test_byte_stream_and_errors(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        assert await cli.write(b"0123456789") == 10
        assert await srv.read(0) == b""
        got = b""
        while len(got) < 10:
            got += await srv.read(4)
        assert got == b"0123456789"
        await srv.write_error(b"oops")
        await srv.write_error(b"again")
        assert await cli.read_error() == b"oops"
        assert await cli.read_error() == b"again"
        big = bytes(range(256)) * 4096  # 1 MiB: exceeds the window, takes the slow path
        w = asyncio.ensure_future(cli.write(big))
        buf = bytearray()
        while len(buf) < len(big):
            buf += await srv.read(100_000)
        assert await w == len(big)
        assert bytes(buf) == big
        await cli.close_write()
        assert await srv.read() == b""


async def test_async_iteration_and_context_manager(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _):
        cli = await b.open("alice", "it")
        srv = await a.accept()
        async with cli as same:
            assert same is cli
            for i in range(5):
                await cli.write_frame(b"%d" % i)
        # leaving `async with` closed the channel: iteration ends after the 5 frames
        frames = [f async for f in srv]
        assert frames == [b"0", b"1", b"2", b"3", b"4"]
        async with srv:
            pass
        for _ in range(500):  # both sides closed: the channel has fully ended
            if cli.closed and srv.closed:
                break
            await asyncio.sleep(0.01)
        assert cli.closed and srv.closed


async def test_nested_channels(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        acc = asyncio.ensure_future(srv.accept())
        kid = await cli.open("kid", ["n=1"])
        skid = await asyncio.wait_for(acc, 10)
        assert (skid.meta.service, skid.meta.headers) == ("kid", ["n=1"])
        await kid.write_frame(b"inner")
        assert await skid.read_frame() == b"inner"
        back = await skid.open("grandkid")
        got = await asyncio.wait_for(kid.accept(), 10)
        assert got.meta.service == "grandkid"
        await back.close()
        assert await got.read_frame() is None


async def test_options_unbind_disconnect_drop(ids: tuple[Identity, Identity], short_dir: str) -> None:
    ia, ib = ids
    async with aio.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key) as a, aio.Peer(
        name="bob", private_key=ib.private_key, authorized_keys=ia.public_key, connect_timeout=1.5
    ) as b:
        a.set_option(streamkit.OPT_MAX_FRAME_SIZE, 1000)
        assert a.get_option(streamkit.OPT_MAX_FRAME_SIZE) == 1000
        assert a.get_option(streamkit.OPT_NAME) == "alice"
        b.set_option(streamkit.OPT_RECONNECT_INTERVAL, -1)
        ep1 = await a.bind(endpoint("tcp", short_dir))
        ep2 = await a.bind(endpoint("unix", short_dir))
        await b.connect(ep1)
        assert b.peers() == ["alice"]
        await b.disconnect(ep1)
        for _ in range(500):
            if not b.peers():
                break
            await asyncio.sleep(0.01)
        assert b.peers() == []
        await b.connect(ep2)
        assert b.peers() == ["alice"]
        await a.drop("bob")
        for _ in range(500):
            if not a.peers():
                break
            await asyncio.sleep(0.01)
        assert a.peers() == []
        with pytest.raises(streamkit.NoPeerError):
            await a.drop("bob")
        await a.unbind(ep1)
        with pytest.raises((streamkit.TimeoutError, streamkit.Error)):
            await b.connect(ep1)
        assert a.next_peer() is None


async def test_shutdown_wakes_accept_and_is_final(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _):
        waiting = asyncio.ensure_future(a.accept())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await a.shutdown()
        assert a.is_shutdown
        with pytest.raises(streamkit.ClosedError):
            await asyncio.wait_for(waiting, 5)
        with pytest.raises(streamkit.ClosedError):
            await a.shutdown()
        with pytest.raises(streamkit.ClosedError):
            await a.accept()
    # __aexit__ on an already shut down peer is fine (checked by leaving the block)


async def test_cancel_accept_then_usable(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _):
        for _ in range(3):
            t = asyncio.ensure_future(a.accept())
            await asyncio.sleep(0.02)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
        cli = await b.open("alice", "after-cancel")
        srv = await asyncio.wait_for(a.accept(), 10)
        assert srv.meta.service == "after-cancel"
        await cli.write_frame(b"ok")
        assert await srv.read_frame() == b"ok"


async def test_cancel_read_frame_then_usable(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        t = asyncio.ensure_future(srv.read_frame())
        await asyncio.sleep(0.02)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await cli.write_frame(b"one")
        await cli.write_frame(b"two")
        assert await srv.read_frame() == b"one"
        assert await srv.read_frame() == b"two"


async def test_cancellation_loses_nothing_under_traffic(ids: tuple[Identity, Identity]) -> None:
    """Reads cancelled while pending, as frames arrive, and mid-batch: every frame arrives once, in order.

    The cancel points are chosen, not timed: each round starts a read while
    nothing is buffered (so it is known to be pending), then cancels it before
    the batch is written, right after it is written (racing its arrival), or
    after a few loop iterations (the read may have taken a frame); a read
    cancelled in the middle of a batch hits the read-ahead stash.
    """
    rounds, batch = 300, 10
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        got: list[int] = []
        cancels = 0
        sent = 0

        async def cancel(t: asyncio.Future[bytes | None]) -> bool:
            """Cancel t; True if it was cancelled, else keep the frame it read."""
            nonlocal cancels
            t.cancel()
            try:
                f = await t
            except asyncio.CancelledError:
                cancels += 1
                return True
            assert f is not None
            got.append(int.from_bytes(f, "big"))
            return False

        async def write_batch() -> None:
            nonlocal sent
            for _ in range(batch):
                await cli.write_frame(sent.to_bytes(4, "big"))
                sent += 1

        async def read_until(count: int) -> None:
            while len(got) < count:
                f = await asyncio.wait_for(srv.read_frame(), 60)
                assert f is not None
                got.append(int.from_bytes(f, "big"))

        pending_cancels = 0
        for r in range(rounds):
            t = asyncio.ensure_future(srv.read_frame())
            for _ in range(3):
                await asyncio.sleep(0)
            assert not t.done(), "a read with nothing buffered completed"
            mode = r % 3
            if mode == 0:  # pending, no data in flight
                assert await cancel(t), "a pending read was not cancelled"
                pending_cancels += 1
                await write_batch()
            elif mode == 1:  # cancelled just as the batch is on its way
                await write_batch()
                await cancel(t)
            else:  # cancelled after the batch may have reached it
                await write_batch()
                for _ in range(5):
                    await asyncio.sleep(0)
                await cancel(t)
            await read_until(sent - batch // 2)
            # mid-batch: frames are buffered; cancel a read before and after it starts
            await cancel(asyncio.ensure_future(srv.read_frame()))
            t = asyncio.ensure_future(srv.read_frame())
            await asyncio.sleep(0)
            await cancel(t)
            await read_until(sent)
        await cli.close_write()
        assert await asyncio.wait_for(srv.read_frame(), 60) is None
        assert got == list(range(rounds * batch))
        assert cancels >= pending_cancels == rounds // 3


async def test_cancellation_loses_no_channel(ids: tuple[Identity, Identity]) -> None:
    n = 200
    async with aio_pair(ids) as (a, b, _):
        opener = asyncio.ensure_future(asyncio.gather(*(b.open("alice", f"s{i}") for i in range(n))))
        seen: list[str] = []
        while len(seen) < n:
            try:
                ch = await asyncio.wait_for(a.accept(), 0.001)
            except asyncio.TimeoutError:
                continue
            seen.append(ch.meta.service)
        await opener
        assert sorted(seen) == sorted(f"s{i}" for i in range(n))


async def test_wait_for_timeouts(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(srv.read_frame(), 0.2)
        assert time.monotonic() - t0 > 0.15  # never early; lateness is not checked (a busy machine)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(a.accept(), 0.1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(srv.read(), 0.1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(srv.read_error(), 0.1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cli.accept(), 0.1)
        await cli.write(b"xyz")
        assert await asyncio.wait_for(srv.read(), 5) == b"xyz"
        await cli.write_error(b"e")
        assert await asyncio.wait_for(srv.read_error(), 5) == b"e"


async def test_thousand_concurrent_channels_one_connection(ids: tuple[Identity, Identity]) -> None:
    n = 1000
    async with aio_pair(ids) as (a, b, _):

        async def server() -> None:
            async def echo(ch: aio.Channel) -> None:
                async with ch:
                    async for f in ch:
                        await ch.write_frame(f[::-1])

            tasks = [asyncio.ensure_future(echo(await a.accept())) for _ in range(n)]
            await asyncio.gather(*tasks)

        async def client(i: int) -> bytes | None:
            async with await b.open("alice", "echo", [f"i={i}"]) as ch:
                await ch.write_frame(b"abc%d" % i)
                r = await ch.read_frame()
                await ch.close_write()
                assert await ch.read_frame() is None
                return r

        srv = asyncio.ensure_future(server())
        results = await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(n))), 120)
        await asyncio.wait_for(srv, 60)
        assert results == [(b"abc%d" % i)[::-1] for i in range(n)]
        assert len(a.peers()) == 1  # all on one connection


async def test_heartbeat_keeps_ticking_while_100_channels_transfer(ids: tuple[Identity, Identity]) -> None:
    """The event loop is never blocked: a heartbeat keeps ticking between transfer events.

    Counted in loop iterations, not time. The heartbeat awaits
    `asyncio.sleep(0)`, so it runs once per loop iteration, and it and every
    completed channel op append to one log. Fast-path ops do not yield, but the
    fairness slice (aio.rs) caps the streamkit work of one iteration, so a run
    of ops between two ticks is what fits in a slice plus one op per ready
    task: a few thousand at most (more would take ops of about 30 ns each,
    which CPython cannot do; slower or busier machines fit fewer). A fast path
    that never yields runs every sender's whole transfer (which fits in its
    window) in the first iteration: channels * frames ops, far over the
    bound. A blocking call deadlocks the loop (pytest --timeout reports it).
    """
    channels = 100
    frames = 600
    payload = b"p" * 256
    max_run = channels * frames // 3
    assert frames * (4 + len(payload)) < 256 * 1024  # a sender's transfer fits in the default CHANNEL_WINDOW
    async with aio_pair(ids) as (a, b, _):
        pairs: list[tuple[aio.Channel, aio.Channel]] = []
        for _ in range(channels):
            c = await b.open("alice", "bulk")
            pairs.append((c, await a.accept()))

        log: list[bool] = []  # True: heartbeat tick, False: a completed channel op
        stop = False

        async def heartbeat() -> None:
            while not stop:
                await asyncio.sleep(0)
                log.append(True)

        # even channels send frames, odd ones the byte stream; senders never pause
        async def send(i: int, c: aio.Channel) -> None:
            for _ in range(frames):
                if i % 2:
                    await c.write(payload)
                else:
                    await c.write_frame(payload)
                log.append(False)
            await c.close_write()

        async def recv(i: int, s: aio.Channel) -> int:
            if i % 2:
                total = 0
                while chunk := await s.read():
                    total += len(chunk)
                    log.append(False)
                assert total == frames * len(payload)
                return frames
            n = 0
            while (f := await s.read_frame()) is not None:
                assert f == payload
                n += 1
                log.append(False)
            return n

        hb = asyncio.ensure_future(heartbeat())
        results = await asyncio.gather(
            *(send(i, c) for i, (c, _) in enumerate(pairs)), *(recv(i, s) for i, (_, s) in enumerate(pairs))
        )
        stop = True
        await hb
        assert results[channels:] == [frames] * channels
        ops = log.count(False)
        assert ops >= channels * frames * 3 // 2, ops  # every write, every frame read, some byte reads
        longest = run = 0
        for tick in log:
            run = 0 if tick else run + 1
            longest = max(longest, run)
        ticks = len(log) - ops
        print(f"{ops} channel ops, {ticks} heartbeat ticks, longest run without a tick: {longest}")
        assert longest <= max_run, f"{longest} channel ops in one loop iteration ({ops} ops, {ticks} ticks)"


async def test_open_streams_asyncio_protocol_code(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        reader, writer = await aio.open_streams(srv)
        creader, cwriter = await aio.open_streams(cli)
        assert writer.get_extra_info("peername") == "bob"
        # a line protocol written against asyncio streams
        cwriter.write(b"GET /a\nGET /b\n")
        await cwriter.drain()
        for _ in range(2):
            line = await reader.readline()
            writer.write(b"200 " + line.split()[1] + b"\n")
        await writer.drain()
        assert await creader.readline() == b"200 /a\n"
        assert await creader.readexactly(7) == b"200 /b\n"
        # flow control: 4 MiB through drain()
        big = b"z" * (4 << 20)
        cwriter.write(big)
        drained = asyncio.ensure_future(cwriter.drain())
        assert await reader.readexactly(len(big)) == big
        await drained
        assert cwriter.can_write_eof()
        cwriter.write_eof()
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        assert await creader.read() == b""
        cwriter.close()
        await cwriter.wait_closed()


async def test_join_socket(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        s1, s2 = socket.socketpair()
        with s1, s2:
            joined = asyncio.ensure_future(srv.join(s1))
            await cli.write(b"to-socket")
            loop = asyncio.get_running_loop()
            s2.setblocking(False)
            assert await asyncio.wait_for(loop.sock_recv(s2, 100), 5) == b"to-socket"
            await loop.sock_sendall(s2, b"from-socket")
            assert await asyncio.wait_for(cli.read(), 5) == b"from-socket"
            s2.shutdown(socket.SHUT_WR)
            await cli.close_write()
            await asyncio.wait_for(joined, 10)


async def test_operation_is_a_coroutine(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _):
        op = a.accept()
        assert isinstance(op, collections.abc.Coroutine)
        assert "not started" in repr(op)
        task = asyncio.create_task(op)  # create_task requires a coroutine
        await asyncio.sleep(0.01)
        await b.open("alice", "x")
        ch = await asyncio.wait_for(task, 10)
        assert ch.meta.service == "x"
        with pytest.raises(RuntimeError, match="reuse"):
            await op
        # a read that is never awaited consumes nothing
        c2 = await b.open("alice", "y")
        s2 = await a.accept()
        never = s2.read_frame()
        never.close()
        await c2.write_frame(b"kept")
        assert await s2.read_frame() == b"kept"
        # writes start at call time: one that fits the window is already sent
        done = c2.write_frame(b"eager")
        assert isinstance(done, collections.abc.Coroutine)
        assert await s2.read_frame() == b"eager"
        await done  # already completed: returns at once
        assert "completed" in repr(done)
        assert await c2.write(b"abc") == 3  # a value-returning write still resolves to its value


async def test_reads_in_order_across_fast_and_waiting_paths(ids: tuple[Identity, Identity]) -> None:
    """Reads that complete at once (already buffered) and reads that wait,
    some cancelled while waiting, interleaved: every frame once, in order."""
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        r = srv.read_frame()
        assert isinstance(r, collections.abc.Coroutine)
        r.close()  # never awaited: consumes nothing
        got: list[bytes | None] = []
        for burst in range(20):
            waiting = asyncio.ensure_future(srv.read_frame())  # nothing buffered: waits
            await asyncio.sleep(0)
            if burst % 2:
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
            for i in range(5):
                await cli.write_frame(b"%d.%d" % (burst, i))
            if not burst % 2:
                got.append(await asyncio.wait_for(waiting, 10))
            while len(got) < 5 * (burst + 1):
                got.append(await asyncio.wait_for(srv.read_frame(), 10))  # mostly buffered already
        await cli.write_error(b"e1")
        await cli.write(b"xyz")
        await cli.close_write()
        assert await srv.read_error() == b"e1"
        assert await srv.read(2) == b"xy"
        assert await srv.read() == b"z"
        assert [f async for f in srv] == []
        assert got == [b"%d.%d" % (k, i) for k in range(20) for i in range(5)]


async def test_byte_read_after_frames_sees_the_stream_in_order(ids: tuple[Identity, Identity]) -> None:
    """A frame read takes every buffered frame off the stream at once (read
    ahead); a byte read that follows still starts right after the last frame
    returned, and frames read again after it continue in order."""
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        for i in range(10):
            await cli.write_frame(b"f%d" % i)
        await cli.write(b"raw")
        await cli.write_frame(b"last")
        await cli.close_write()
        want = b"".join(len(b"f%d" % i).to_bytes(4, "big") + b"f%d" % i for i in range(2, 10)) + b"raw"
        # wait until everything is buffered, so the first read reads ahead
        for _ in range(500):
            if (await asyncio.wait_for(srv.read_frame(), 10)) == b"f0":
                break
        assert await srv.read_frame() == b"f1"
        got = b""
        while len(got) < len(want):
            got += await asyncio.wait_for(srv.read(len(want) - len(got)), 10)
        assert got == want
        assert await srv.read_frame() == b"last"
        assert await srv.read_frame() is None


async def _chunks_to_eof(ch: aio.Channel) -> AsyncIterator[bytes]:
    while chunk := await asyncio.wait_for(ch.read(), 10):
        yield chunk


async def test_frames_then_async_for_then_bytes(ids: tuple[Identity, Identity]) -> None:
    """`async for` reading ahead, left with `break`, loses nothing."""
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        for i in range(200):
            await cli.write_frame(i.to_bytes(2, "big"))
        await cli.close_write()
        await asyncio.sleep(0.1)
        seen = []
        async for f in srv:
            seen.append(int.from_bytes(f, "big"))
            if len(seen) == 50:
                break
        assert seen == list(range(50))
        assert await srv.read_frame() == (50).to_bytes(2, "big")
        rest = b"".join([chunk async for chunk in _chunks_to_eof(srv)])
        assert rest == b"".join(b"\x00\x00\x00\x02" + i.to_bytes(2, "big") for i in range(51, 200))


async def test_bad_input() -> None:
    p = aio.Peer()
    try:
        with pytest.raises(TypeError, match=r"Peer.bind\(\) argument 'endpoint' must be str, not int"):
            p.bind(1)  # type: ignore[arg-type]
        with pytest.raises(streamkit.InvalidArgument):
            await p.bind("nope://x")
        with pytest.raises(TypeError, match="headers"):
            p.open("x", "svc", "k=v")
        with pytest.raises(TypeError):
            p.open("x", 3)  # type: ignore[arg-type]
        with pytest.raises(streamkit.NoPeerError):
            await p.open("nobody", "svc")
        with pytest.raises(streamkit.InvalidArgument):
            p.set_option(999, 1)
        with pytest.raises(TypeError):
            p.set_option(streamkit.OPT_CONNECT_TIMEOUT, "soon")
        with pytest.raises(TypeError):
            aio.Peer(name=5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            aio.Channel()
    finally:
        await p.shutdown()


async def test_bad_input_channel(ids: tuple[Identity, Identity]) -> None:
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        with pytest.raises(TypeError, match="bytes-like"):
            cli.write_frame("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            cli.write(None)  # type: ignore[arg-type]
        with pytest.raises(streamkit.InvalidArgument):
            cli.read(-1)  # type: ignore[unused-coroutine]
        with pytest.raises(TypeError):
            cli.read("10")  # type: ignore[arg-type, unused-coroutine]
        with pytest.raises(TypeError):
            cli.write_trailers("a=b")
        with pytest.raises(TypeError):
            cli.join("sock")  # type: ignore[arg-type]
        # after all that bad input the peer and channel still work
        await cli.write_frame(b"fine")
        assert await srv.read_frame() == b"fine"
        c2 = await b.open("alice", "still-ok")
        assert (await asyncio.wait_for(a.accept(), 10)).meta.service == "still-ok"
        await c2.close()
        await cli.close()
        await cli.close()  # idempotent
        with pytest.raises(streamkit.ClosedError):
            await cli.write_frame(b"after close")
