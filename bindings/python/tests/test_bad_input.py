"""Bad input for every argument: TypeError for wrong types, InvalidArgument for bad values."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from conftest import Pair, make_pair, shutdown_quietly, Identity

import streamkit


@pytest.fixture
def live(ids: tuple[Identity, Identity], short_dir: str) -> Iterator[tuple[Pair, streamkit.Channel]]:
    p = make_pair(ids, "tcp", short_dir)
    ch = p.b.open("alice", "bad")
    srv = p.a.accept(timeout=5)  # kept alive until teardown: a dropped channel closes
    yield p, ch
    srv.close()
    shutdown_quietly(p.a, p.b)


NOT_STR: list[Any] = [1, 1.5, b"bytes", None, ["list"], object()]
NOT_INT: list[Any] = ["1", 1.5, b"1", True, None, [1]]
NOT_BUFFER: list[Any] = ["text", 12, None, [1, 2], 3.0, object()]
NOT_TIMEOUT: list[Any] = ["1", b"1", [1], object(), True]
BAD_TIMEOUT_VALUE: list[float] = [-1, -0.001, float("nan")]
NOT_STR_LIST: list[Any] = ["a=b", b"a=b", 5, [1], ["ok", None], object(), {"k": 1}, {1: "v"}]


def ctor(**kw: Any) -> Callable[[], object]:
    return lambda: streamkit.Peer(**kw)


@pytest.mark.parametrize("value", [1, 2.5, b"name", ["x"]])
def test_peer_name_type(value: Any) -> None:
    with pytest.raises(TypeError, match="'name' must be str"):
        streamkit.Peer(name=value)


@pytest.mark.parametrize("param", ["private_key", "authorized_keys", "known_hosts"])
@pytest.mark.parametrize("value", [1, 2.5, b"bytes", ["x"]])
def test_peer_key_option_types(param: str, value: Any) -> None:
    with pytest.raises(TypeError, match=f"'{param}' must be str or os.PathLike"):
        streamkit.Peer(**{param: value})


@pytest.mark.parametrize("param", ["max_frame_size", "keepalive_count", "max_channels", "channel_window"])
@pytest.mark.parametrize("value", ["100", 1.5, b"1", True, [1]])
def test_peer_int_option_types(param: str, value: Any) -> None:
    with pytest.raises(TypeError, match=f"'{param}' must be int"):
        streamkit.Peer(**{param: value})


@pytest.mark.parametrize("param", ["reconnect_interval", "reconnect_interval_max", "connect_timeout",
                                   "keepalive_interval", "handshake_timeout"])
@pytest.mark.parametrize("value", ["100", b"1", True, [1]])
def test_peer_duration_option_types(param: str, value: Any) -> None:
    with pytest.raises(TypeError, match=f"'{param}' must be float or int \\(seconds\\)"):
        streamkit.Peer(**{param: value})


def test_peer_bad_option_values() -> None:
    with pytest.raises(streamkit.InvalidArgument):
        streamkit.Peer(private_key="-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(streamkit.InvalidArgument):
        streamkit.Peer(private_key="/nonexistent/dir/id_ed25519")
    with pytest.raises(streamkit.InvalidArgument):
        streamkit.Peer(max_frame_size=0)
    with pytest.raises(streamkit.InvalidArgument):
        streamkit.Peer(connect_timeout=-5)
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError
        streamkit.Peer(max_frame_size=1 << 70)
    with pytest.raises(TypeError):
        streamkit.Peer(nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        streamkit.Peer("a", "b", "c", "d", 1, 2, 3, 4, 5)  # type: ignore[call-arg]


def test_set_get_option_bad_input() -> None:
    with streamkit.Peer() as p:
        for opt in NOT_INT:
            with pytest.raises(TypeError, match="'option' must be int"):
                p.set_option(opt, "x")
            with pytest.raises(TypeError, match="'option' must be int"):
                p.get_option(opt)
        for opt in (-1, 16, 1000, 1 << 40):
            with pytest.raises(streamkit.InvalidArgument, match="option"):
                p.set_option(opt, 1)
            with pytest.raises(streamkit.InvalidArgument, match="option"):
                p.get_option(opt)
        for v in NOT_STR:
            if v is None:
                continue
            with pytest.raises(TypeError, match="'value' must be str"):
                p.set_option(streamkit.OPT_NAME, v)
        for v in NOT_INT:
            with pytest.raises(TypeError, match="'value' must be int"):
                p.set_option(streamkit.OPT_CONNECT_TIMEOUT, v)
        with pytest.raises(TypeError):
            p.set_option(streamkit.OPT_PRIVATE_KEY, 5)
        with pytest.raises(streamkit.InvalidArgument):
            p.set_option(streamkit.OPT_PRIVATE_KEY, "not a key")
        with pytest.raises(streamkit.InvalidArgument):
            p.set_option(streamkit.OPT_MAX_FRAME_SIZE, -1)
        with pytest.raises(streamkit.InvalidArgument):
            p.set_option(streamkit.OPT_NAME, "")
        # failed calls leave the previous values in place
        assert p.get_option(streamkit.OPT_MAX_FRAME_SIZE) == 16 << 20


@pytest.mark.parametrize("method", ["bind", "unbind", "connect", "disconnect", "drop"])
def test_peer_string_methods(method: str) -> None:
    with streamkit.Peer() as p:
        fn = getattr(p, method)
        for v in NOT_STR:
            with pytest.raises(TypeError, match=f"Peer.{method}\\(\\) argument '.*' must be str, not"):
                fn(v)
        with pytest.raises(TypeError):
            fn()
        with pytest.raises(TypeError):
            fn("a", "b")


@pytest.mark.parametrize(
    "ep",
    [
        "",
        "tcp://",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:notaport",
        "tcp://127.0.0.1:99999",
        "udp://127.0.0.1:1",
        "unix://relative/path",
        "inproc://",
        "127.0.0.1:80",
        "tcp://127.0.0.1:0\x00",
    ],
)
def test_bad_endpoints_name_the_endpoint(ep: str) -> None:
    with streamkit.Peer(connect_timeout=0.2) as p:
        with pytest.raises(streamkit.InvalidArgument) as info:
            p.bind(ep)
        assert ep.rstrip("\x00") in str(info.value)  # the message names the endpoint
        with pytest.raises(streamkit.InvalidArgument):
            p.connect(ep)


def test_accept_timeouts_bad_input() -> None:
    with streamkit.Peer() as p:
        for t in NOT_TIMEOUT:
            with pytest.raises(TypeError, match="'timeout' must be float, int or None"):
                p.accept(t)
            with pytest.raises(TypeError, match="'timeout'"):
                p.accept(timeout=t)
        for t in BAD_TIMEOUT_VALUE:
            with pytest.raises(streamkit.InvalidArgument, match="timeout"):
                p.accept(timeout=t)
        with pytest.raises(streamkit.TimeoutError):
            p.accept(timeout=0)
        with pytest.raises(TypeError):
            p.accept(1, 2)  # type: ignore[call-arg]


def test_open_bad_input(live: tuple[Pair, streamkit.Channel]) -> None:
    pair, ch = live
    for v in NOT_STR:
        with pytest.raises(TypeError, match="'peer' must be str"):
            pair.b.open(v, "svc")
        with pytest.raises(TypeError, match="'service' must be str"):
            pair.b.open("alice", v)
        with pytest.raises(TypeError, match="'service' must be str"):
            ch.open(v)
    for h in NOT_STR_LIST:
        with pytest.raises(TypeError, match="'headers'"):
            pair.b.open("alice", "svc", h)
        with pytest.raises(TypeError, match="'headers'"):
            ch.open("svc", h)
    # the core checks sizes (not the key=value shape)
    with pytest.raises(streamkit.InvalidArgument, match="512 KiB"):
        pair.b.open("alice", "svc", ["k=" + "v" * (600 << 10)])
    with pytest.raises(streamkit.InvalidArgument, match="512 KiB"):
        ch.open("x" * (600 << 10))
    # generators and tuples of str are fine
    pair.b.open("alice", "ok", (f"k{i}=v" for i in range(3))).close()
    pair.b.open("alice", "ok", ("a=b",)).close()
    pair.b.open("alice", "ok", None).close()


def test_channel_data_bad_input(live: tuple[Pair, streamkit.Channel]) -> None:
    _, ch = live
    for method in (ch.write, ch.write_frame, ch.write_error):
        for v in NOT_BUFFER:
            with pytest.raises(TypeError, match="must be a bytes-like object"):
                method(v)
    # a non-contiguous buffer is refused with Python's own BufferError
    with pytest.raises(BufferError):
        ch.write(memoryview(b"abcdef")[::2])
    bad_n: list[Any] = ["10", 1.5, True, b"1", [1]]
    for n in bad_n:
        with pytest.raises(TypeError, match="'n' must be int"):
            ch.read(n)
    with pytest.raises(streamkit.InvalidArgument, match="'n'"):
        ch.read(-1)
    for method2 in (ch.read_frame, ch.read_error, ch.accept):
        for t in NOT_TIMEOUT:
            with pytest.raises(TypeError, match="'timeout'"):
                method2(timeout=t)
        for bad in BAD_TIMEOUT_VALUE:
            with pytest.raises(streamkit.InvalidArgument):
                method2(timeout=bad)
    for v in NOT_STR_LIST:
        with pytest.raises(TypeError, match="'trailers'"):
            ch.write_trailers(v)
    with pytest.raises(streamkit.InvalidArgument, match="512 KiB"):
        ch.write_trailers(["t=" + "v" * (600 << 10)])


def test_join_bad_input(live: tuple[Pair, streamkit.Channel]) -> None:
    _, ch = live
    bad_sock: list[Any] = ["sock", 1.5, None, [3], True]
    for v in bad_sock:
        with pytest.raises(TypeError, match="'sock'"):
            ch.join(v)
    with pytest.raises(streamkit.InvalidArgument, match="file descriptor"):
        ch.join(-1)
    s = socket.socket()
    s.close()  # fileno() is -1 now
    with pytest.raises(streamkit.InvalidArgument, match="closed"):
        ch.join(s)
    with pytest.raises(streamkit.Error):
        ch.join(987654)  # not an open fd
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(streamkit.InvalidArgument, match="SOCK_STREAM"):
            ch.join(u)
    finally:
        u.close()

    class BadFileno:
        def fileno(self) -> str:
            return "nope"

    with pytest.raises(TypeError):
        ch.join(cast(Any, BadFileno()))
