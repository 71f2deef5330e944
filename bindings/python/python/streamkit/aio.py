"""streamkit.aio: the asyncio interface to streamkit.

The same peers and channels as the blocking ``streamkit`` API, with awaitable
methods that never block the event loop::

    import asyncio
    from streamkit import aio

    async def main(key_a, key_b, pub_a, pub_b):
        async with aio.Peer(name="a", private_key=key_a, authorized_keys=pub_b) as a, \\
                   aio.Peer(name="b", private_key=key_b, authorized_keys=pub_a) as b:
            await b.connect(await a.bind("tcp://127.0.0.1:0"))
            async with await b.open("a", "echo") as ch, await a.accept() as srv:
                await ch.write_frame(b"hello")
                assert await srv.read_frame() == b"hello"

* Awaitable methods return coroutine objects (native coroutines for the
  reads, :class:`Operation` for the rest): ``await`` them, or pass them to
  ``asyncio.create_task``, ``asyncio.wait_for`` or ``asyncio.gather``.
  Nothing happens before the await, except that ``write``/``write_frame``/
  ``write_error`` start at call time (like ``StreamWriter.write``): what fits
  the flow-control window is sent before the call returns. They are built
  on pyo3-async-runtimes over the extension's tokio runtime. A call
  whose result is already there (a buffered frame, a write that fits the flow
  control window) completes without a round trip through the event loop;
  once such calls have kept one loop iteration busy for 0.5 ms, the next
  ones yield to the loop first, so busy channels cannot starve other tasks
  or timers.
* Cancellation (``task.cancel()``, ``asyncio.wait_for`` timeouts): a task
  waiting in ``accept``/``read_frame``/``read``/``read_error`` gets
  ``CancelledError`` and nothing is lost: the peer and channel stay usable
  and a frame or channel that arrived meanwhile is returned by the next call.
  A cancelled ``write``/``write_frame`` (waiting for the remote window) may
  have sent part of its data.
* :func:`open_streams` wraps a channel's byte stream in real
  ``asyncio.StreamReader``/``asyncio.StreamWriter`` objects for existing
  asyncio protocol code.
* Errors are the ``streamkit`` exception classes. Objects from the blocking
  API and from this module are separate types but speak the same protocol,
  so a blocking peer in one process and an asyncio peer in another
  interoperate.
"""

from __future__ import annotations

import asyncio
import atexit
import collections.abc
from collections import deque
from typing import Any, Optional

from ._streamkit import _AioChannel as Channel
from ._streamkit import ChannelStats, ConnStats
from ._streamkit import _AioChannelMeta as ChannelMeta
from ._streamkit import _AioOperation as Operation
from ._streamkit import _AioPeer as Peer
from ._streamkit import _aio_init, _aio_quiesce, _aio_stats  # noqa: F401  (_aio_stats: for benchmarks)

# Bridge threads finishing an operation attach to the interpreter; let them
# finish before it finalizes (attaching during finalization aborts).
atexit.register(_aio_quiesce, 2.0)

# Operation implements send/throw/close/__await__, so the Coroutine ABC already
# recognises it; registering makes that explicit (asyncio.create_task accepts it).
collections.abc.Coroutine.register(Operation)

__all__ = [
    "Peer",
    "Channel",
    "ChannelMeta",
    "ChannelStats",
    "ConnStats",
    "Operation",
    "open_streams",
]


async def _read(ch: Any, kind: int, n: int) -> Any:
    """What Channel.read/read_frame/read_error/__anext__ return (a coroutine).

    Data that is already there is returned in this first step, without an
    Operation or an event-loop round trip; otherwise (or when the loop's
    fast-path slice is used up) the Operation waits, cancel-safe.
    """
    r = ch._try_read(kind, n)
    if r is _WAIT:
        r = await ch._wait_read(kind, n)
    return r


_WAIT = _aio_init(_read)


# The hot reads as native coroutines defined here, replacing the extension's
# methods (which return the same thing through a call into Python): calling
# them creates the coroutine directly, and a result that is already there is
# returned by its first step (PYGEN_RETURN, no StopIteration object).
async def _read_frame(self: Channel) -> Any:
    r = self._try_frame()
    if r is _WAIT:
        r = await self._wait_read(0, 0)
    return r


async def _read_error(self: Channel) -> Any:
    r = self._try_error()
    if r is _WAIT:
        r = await self._wait_read(1, 0)
    return r


async def _anext(self: Channel) -> Any:
    r = self._try_anext()
    if r is _WAIT:
        r = await self._wait_read(2, 0)
    return r


for _name, _fn in (("read_frame", _read_frame), ("read_error", _read_error), ("__anext__", _anext)):
    _fn.__name__ = _name
    _fn.__qualname__ = f"Channel.{_name}"
    _fn.__doc__ = getattr(Channel, _name).__doc__
    setattr(Channel, _name, _fn)
del _name, _fn

_READ_SIZE = 65536


class _ChannelTransport(asyncio.Transport):
    """An asyncio transport over a streamkit.aio.Channel's byte stream.

    A reader task feeds the protocol (pausing while the protocol asks it to);
    a writer task sends buffered writes in order and applies the usual
    high/low water marks to the protocol's pause_writing/resume_writing.
    """

    def __init__(self, channel: Channel, protocol: asyncio.Protocol) -> None:
        super().__init__({"streamkit_channel": channel, "peername": channel.meta.remote_peer})
        self._ch = channel
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._buf: deque[bytes] = deque()
        self._buffered = 0
        self._high = 256 * 1024
        self._low = 64 * 1024
        self._writing_paused = False
        self._want_eof = False
        self._eof_called = False
        self._closing = False
        self._lost = False
        self._reading = asyncio.Event()
        self._reading.set()
        self._have_data = asyncio.Event()
        protocol.connection_made(self)
        self._reader = self._loop.create_task(self._read_loop())
        self._writer = self._loop.create_task(self._write_loop())

    # -- reading
    async def _read_loop(self) -> None:
        try:
            while True:
                await self._reading.wait()
                data = await self._ch.read(_READ_SIZE)
                if not data:
                    break
                self._protocol.data_received(data)
            keep_open = self._protocol.eof_received()
            if not keep_open:
                self.close()
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # report read errors to the protocol
            # A read ended by our own close() is a normal end.
            self._connection_lost(None if self._closing else e)

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    # -- writing
    async def _write_loop(self) -> None:
        try:
            while True:
                while self._buf:
                    chunk = self._buf.popleft()
                    await self._ch.write(chunk)
                    self._buffered -= len(chunk)
                    self._maybe_resume()
                if self._closing:
                    await self._ch.close()
                    self._reader.cancel()
                    self._connection_lost(None)
                    return
                if self._want_eof:
                    self._want_eof = False
                    await self._ch.close_write()
                self._have_data.clear()
                await self._have_data.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._reader.cancel()
            self._connection_lost(e)

    def _maybe_resume(self) -> None:
        if self._writing_paused and self._buffered <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()

    def write(self, data: Any) -> None:
        if self._closing or self._eof_called:
            raise RuntimeError("streamkit.aio transport: write after close/write_eof")
        b = bytes(data)
        if not b:
            return
        self._buf.append(b)
        self._buffered += len(b)
        self._have_data.set()
        if not self._writing_paused and self._buffered > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._eof_called = True
        self._want_eof = True
        self._have_data.set()

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        self._high = 256 * 1024 if high is None else high
        self._low = self._high // 4 if low is None else low

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    # -- closing
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Send what is buffered, then close the channel."""
        if self._closing:
            return
        self._closing = True
        self._have_data.set()

    def abort(self) -> None:
        """Close the channel now, dropping buffered writes."""
        self._closing = True
        self._buf.clear()
        self._buffered = 0
        self._writer.cancel()
        self._reader.cancel()
        self._loop.create_task(self._ch.close())
        self._connection_lost(None)

    def _connection_lost(self, exc: Optional[BaseException]) -> None:
        if self._lost:
            return
        self._lost = True
        exc2 = exc if exc is None or isinstance(exc, Exception) else None
        self._loop.call_soon(self._protocol.connection_lost, exc2)


async def open_streams(
    channel: Channel, *, limit: int = 2**16
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Wrap a channel's byte stream as (asyncio.StreamReader, asyncio.StreamWriter).

    Like ``asyncio.open_connection()``, for a channel: the reader returns what
    the remote side writes (``read``, ``readline``, ``readexactly``, ... reach
    EOF when it closes or calls ``close_write``); ``writer.write()`` +
    ``await writer.drain()`` send with flow control; ``writer.write_eof()``
    is ``close_write()``; ``writer.close()`` + ``await writer.wait_closed()``
    flush and close the channel. ``limit`` is the StreamReader buffer limit.
    Frames, error frames and trailers stay available on the channel itself
    (do not mix ``channel.read``/``read_frame`` with the reader).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport = _ChannelTransport(channel, protocol)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer
