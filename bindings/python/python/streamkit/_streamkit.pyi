"""Type stubs for streamkit._streamkit, the compiled extension (re-exported by ``streamkit``)."""

import builtins
import os
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Final, Literal, Protocol, Union, final, overload

from typing_extensions import Buffer, Self

__version__: Final[str]

OPT_PRIVATE_KEY: Final = 0
OPT_AUTHORIZED_KEYS: Final = 1
OPT_NAME: Final = 2
OPT_RECONNECT_INTERVAL: Final = 3
OPT_RECONNECT_INTERVAL_MAX: Final = 4
OPT_CONNECT_TIMEOUT: Final = 5
OPT_MAX_FRAME_SIZE: Final = 6
OPT_KNOWN_HOSTS: Final = 7
OPT_KEEPALIVE_INTERVAL: Final = 8
OPT_KEEPALIVE_COUNT: Final = 9
OPT_HANDSHAKE_TIMEOUT: Final = 10
OPT_MAX_CHANNELS: Final = 11
OPT_CHANNEL_WINDOW: Final = 12
OPT_ACCEPT_BACKLOG: Final = 13
OPT_WINDOW_BUDGET: Final = 14
OPT_MAX_CONNECTIONS_PER_KEY: Final = 15

_StrOption = Literal[0, 1, 2, 7]
_IntOption = Literal[3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]
_StrOrPath = Union[str, "os.PathLike[str]"]

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

class Error(Exception):
    """Base class of every error raised by streamkit."""

class ClosedError(Error):
    """The peer or channel is closed, or was shut down while the call was waiting."""

class TimeoutError(Error, builtins.TimeoutError):
    """The call's timeout (or the peer's CONNECT_TIMEOUT) passed first."""

class NoPeerError(Error):
    """No connected peer matches the request."""

class AuthError(Error):
    """Authentication failed: an untrusted key on either side."""

class ProtocolError(Error):
    """The remote side broke the streamkit protocol."""

class InvalidArgument(Error, ValueError):
    """A malformed argument value (endpoint, key, option value, ...)."""

def generate_key() -> str:
    """A new ed25519 private key as OpenSSH PEM text."""

def public_key(private_key: _StrOrPath) -> str:
    """The OpenSSH public key line of a private key (a path or the key text)."""

@final
class Peer:
    """A streamkit peer: binds and/or connects; channels are opened to connected peers by name."""

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
    def bind(self, endpoint: str) -> str:
        """Listen on an endpoint; returns the endpoint actually bound."""
    def unbind(self, endpoint: str) -> None: ...
    def connect(self, endpoint: str) -> None: ...
    def disconnect(self, endpoint: str) -> None: ...
    def connect_fd(self, sock_or_fd: socket.socket | _HasFileno | int) -> str:
        """SSH client side over a connected socket or fd; returns the remote's name."""
    def serve_fd(self, sock_or_fd: socket.socket | _HasFileno | int) -> str:
        """SSH server side over a connected socket or fd; returns the client's name."""
    def peers(self) -> list[str]: ...
    def stats(self) -> list[ConnStats]: ...
    def fileno(self) -> int: ...
    def drop(self, name: str) -> None: ...
    def next_peer(self) -> str | None: ...
    def next_event(self, timeout: float | None = None) -> Event | None: ...
    def accept(self, timeout: float | None = None) -> Channel: ...
    def open(self, peer: str, service: str, headers: Iterable[str] | dict[str, str] | None = ()) -> Channel: ...
    def shutdown(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool: ...

@final
class ChannelStats:
    """What one channel has moved and where it stalled (``Channel.stats()``).

    Durations are milliseconds. ``send_blocked_ms`` growing here while the
    other side's ``recv_unread_ms`` grows: the remote application does not
    read fast enough; ``recv_unread_ms`` growing here: this side does not.
    """

    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def frames_sent(self) -> int: ...
    @property
    def frames_received(self) -> int: ...
    @property
    def recv_buffered(self) -> int: ...
    @property
    def recv_window(self) -> int: ...
    @property
    def send_credit(self) -> int: ...
    @property
    def send_blocked_ms(self) -> float: ...
    @property
    def recv_unread_ms(self) -> float: ...

@final
class ConnStats:
    """One established connection of a peer (``Peer.stats()``)."""

    @property
    def peer(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def rtt_ms(self) -> float | None: ...
    @property
    def connected_ms(self) -> float: ...

@final
class Event:
    """An event about a peer's connections (Peer.next_event)."""

    @property
    def kind(self) -> str: ...
    @property
    def peer(self) -> str | None: ...
    @property
    def endpoint(self) -> str | None: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def attempt(self) -> int | None: ...
    @property
    def delay(self) -> float | None: ...
    @property
    def dropped(self) -> int: ...

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
    """A bidirectional stream tunnelled through an SSH connection to a peer."""

    @property
    def meta(self) -> ChannelMeta: ...
    def stats(self) -> ChannelStats: ...
    def fileno(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def read(self, n: int = 65536, timeout: float | None = None) -> bytes: ...
    def readinto(self, buffer: Buffer, timeout: float | None = None) -> int: ...
    def write(self, data: Buffer) -> int: ...
    def write_frame(self, data: Buffer) -> None: ...
    def read_frame(self, timeout: float | None = None) -> bytes | None: ...
    def write_error(self, data: Buffer) -> None: ...
    def read_error(self, timeout: float | None = None) -> bytes | None: ...
    def close_write(self) -> None: ...
    def write_trailers(self, trailers: Iterable[str] | dict[str, str]) -> None: ...
    def close(self) -> None: ...
    def open(self, service: str, headers: Iterable[str] | dict[str, str] | None = ()) -> Channel: ...
    def accept(self, timeout: float | None = None) -> Channel: ...
    def join(self, sock: socket.socket | _HasFileno | int) -> None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> bytes: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool: ...
