"""Type stubs for streamkit.aio, the asyncio interface to streamkit."""

import asyncio
import os
import socket
from collections.abc import Coroutine, Generator, Iterable
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar, Union, final, overload

from typing_extensions import Buffer, Self

from ._streamkit import ChannelStats as ChannelStats
from ._streamkit import ConnStats as ConnStats
from streamkit._streamkit import Event

_T = TypeVar("_T", covariant=True)
_StrOption = Literal[0, 1, 2, 7]
_IntOption = Literal[3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]
_StrOrPath = Union[str, "os.PathLike[str]"]
_Headers = Union[Iterable[str], dict[str, str], None]

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

__all__ = ["Peer", "Channel", "ChannelMeta", "ChannelStats", "ConnStats", "Operation", "open_streams"]

@final
class Operation(Coroutine[Any, Any, _T]):
    """A pending streamkit.aio call: a coroutine object, awaitable once.

    Nothing runs until it is awaited (or wrapped in a task)."""

    def __await__(self) -> Generator[Any, None, _T]: ...
    def __iter__(self) -> Generator[Any, None, _T]: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any:
        """Resume the operation (the value is ignored)."""
    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None) -> Any:
        """Stop the operation (cancelling pending I/O) and raise the exception."""
    def close(self) -> None:
        """Stop the operation, cancelling pending I/O."""

@final
class Peer:
    """An asyncio streamkit peer; awaitable methods never block the event loop."""

    def __new__(
        cls,
        name: str | None = None,
        private_key: _StrOrPath | None = None,
        authorized_keys: _StrOrPath | None = None,
        known_hosts: _StrOrPath | None = None,
        reconnect_interval: float | None = None,
        reconnect_interval_max: float | None = None,
        connect_timeout: float | None = None,
        max_frame_size: int | None = None,
        *,
        keepalive_interval: float | None = None,
        keepalive_count: int | None = None,
        handshake_timeout: float | None = None,
        max_channels: int | None = None,
        channel_window: int | None = None,
        accept_backlog: int | None = None,
        window_budget: int | None = None,
        max_connections_per_key: int | None = None,
    ) -> Self: ...
    @overload
    def set_option(self, option: _StrOption, value: _StrOrPath) -> None: ...
    @overload
    def set_option(self, option: _IntOption, value: int) -> None: ...
    @overload
    def set_option(self, option: int, value: _StrOrPath | int) -> None: ...
    @overload
    def get_option(self, option: _StrOption) -> str: ...
    @overload
    def get_option(self, option: _IntOption) -> int: ...
    @overload
    def get_option(self, option: int) -> str | int: ...
    @property
    def public_key(self) -> str:
        """This peer's public key, one OpenSSH line."""
    @property
    def name(self) -> str:
        """This peer's name."""
    @property
    def is_shutdown(self) -> bool:
        """True once shutdown() has been called."""
    def bind(self, endpoint: str) -> Operation[str]:
        """Listen on an endpoint; resolves to the endpoint actually bound."""
    def unbind(self, endpoint: str) -> Operation[None]:
        """Stop listening on an endpoint returned by bind()."""
    def connect(self, endpoint: str) -> Operation[None]:
        """Connect to a bound peer and authenticate both ways."""
    def disconnect(self, endpoint: str) -> Operation[None]:
        """Close the connection made by connect(endpoint)."""
    def connect_fd(self, sock_or_fd: socket.socket | _HasFileno | int) -> Operation[str]:
        """SSH client side over a connected socket or fd; resolves to the remote's name."""
    def serve_fd(self, sock_or_fd: socket.socket | _HasFileno | int) -> Operation[str]:
        """SSH server side over a connected socket or fd; resolves to the client's name."""
    def peers(self) -> list[str]:
        """Names of the connected peers, sorted."""
    def stats(self) -> list[ConnStats]:
        """One entry per established connection (does not block)."""
    def drop(self, name: str) -> Operation[None]:
        """Close the connection to the named peer."""
    def next_peer(self) -> str | None:
        """The next connected peer in round-robin order, or None."""
    def accept(self) -> Operation[Channel]:
        """Wait for a channel opened by a remote peer (cancel-safe)."""
    def next_event(self) -> Operation[Event | None]:
        """The next event about this peer's connections; None after shutdown (cancel-safe)."""
    def open(self, peer: str, service: str, headers: _Headers = ()) -> Operation[Channel]:
        """Open a channel to a connected peer for a service."""
    def shutdown(self) -> Operation[None]:
        """Close everything; waiting calls raise ClosedError."""
    def __aenter__(self) -> Operation[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> Operation[None]: ...

@final
class ChannelMeta:
    """A channel's metadata."""

    @property
    def service(self) -> str: ...
    @property
    def headers(self) -> list[str]: ...
    @property
    def trailers(self) -> list[str]: ...
    @property
    def headers_dict(self) -> dict[str, str]: ...
    @property
    def trailers_dict(self) -> dict[str, str]: ...
    @property
    def local_peer(self) -> str: ...
    @property
    def remote_peer(self) -> str: ...
    @property
    def remote_key(self) -> str: ...
    @property
    def remote_fingerprint(self) -> str: ...

@final
class Channel:
    """An asyncio streamkit channel; awaitable methods never block the event loop."""

    @property
    def meta(self) -> ChannelMeta: ...
    def stats(self) -> ChannelStats:
        """What this channel has moved and where it stalled (does not block)."""
    @property
    def closed(self) -> bool: ...
    def read(self, n: int = 65536) -> Coroutine[Any, Any, bytes]:
        """Up to n bytes of the byte stream; b"" at end of stream (cancel-safe)."""
    def write(self, data: Buffer) -> Operation[int]:
        """Write all of data (starts at call time); resolves to len(data)."""
    def write_frame(self, data: Buffer) -> Operation[None]:
        """Send one frame (starts at call time)."""
    async def read_frame(self) -> bytes | None:
        """The next frame; None at end of stream (cancel-safe).

        Frames that have already arrived are read ahead (up to 128 frames /
        16 KiB in one native call) and returned by the next reads; a read()
        after read_frame() returns those bytes first."""
    def write_error(self, data: Buffer) -> Operation[None]:
        """Send an error frame (starts at call time)."""
    async def read_error(self) -> bytes | None:
        """The next error frame; None at end of stream (cancel-safe)."""
    def close_write(self) -> Operation[None]:
        """Half-close: the remote side's reads reach end of stream."""
    def write_trailers(self, trailers: Iterable[str] | dict[str, str]) -> Operation[None]:
        """Send key=value trailers."""
    def close(self) -> Operation[None]:
        """Close the channel (idempotent)."""
    def open(self, service: str, headers: _Headers = ()) -> Operation[Channel]:
        """Open a child channel."""
    def accept(self) -> Operation[Channel]:
        """Wait for a child channel opened by the remote side (cancel-safe)."""
    def join(self, sock: socket.socket | _HasFileno | int) -> Operation[None]:
        """Splice the byte stream with a socket, then close the channel."""
    def __aiter__(self) -> Self: ...
    async def __anext__(self) -> bytes: ...
    def __aenter__(self) -> Operation[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> Operation[None]: ...

async def open_streams(
    channel: Channel, *, limit: int = 65536
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Wrap a channel's byte stream as (asyncio.StreamReader, asyncio.StreamWriter)."""
