"""Every part of the public API, over tcp, unix and inproc."""

from __future__ import annotations

import array
import fcntl
import gc
import inspect
import os
import pathlib
import re
import socket
import threading
import time

import pytest
from conftest import Identity, Pair, bind_or_skip, endpoint, make_pair, shutdown_quietly, wait_until

import streamkit


def test_version_constants_and_all() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", streamkit.__version__)
    expected = {
        "PRIVATE_KEY": 0,
        "AUTHORIZED_KEYS": 1,
        "NAME": 2,
        "RECONNECT_INTERVAL": 3,
        "RECONNECT_INTERVAL_MAX": 4,
        "CONNECT_TIMEOUT": 5,
        "MAX_FRAME_SIZE": 6,
        "KNOWN_HOSTS": 7,
        "KEEPALIVE_INTERVAL": 8,
        "KEEPALIVE_COUNT": 9,
        "HANDSHAKE_TIMEOUT": 10,
        "MAX_CHANNELS": 11,
        "CHANNEL_WINDOW": 12,
        "ACCEPT_BACKLOG": 13,
        "WINDOW_BUDGET": 14,
        "MAX_CONNECTIONS_PER_KEY": 15,
    }
    found = {n[4:]: getattr(streamkit, n) for n in dir(streamkit) if n.startswith("OPT_")}
    assert found == expected
    for name in streamkit.__all__:
        assert hasattr(streamkit, name), name
    assert set(streamkit.__all__) >= {"Peer", "Channel", "ChannelMeta", "generate_key", "Error"}


def test_exception_hierarchy() -> None:
    for cls in (
        streamkit.ClosedError,
        streamkit.TimeoutError,
        streamkit.NoPeerError,
        streamkit.AuthError,
        streamkit.ProtocolError,
        streamkit.InvalidArgument,
    ):
        assert issubclass(cls, streamkit.Error)
        assert cls.__module__ == "streamkit"
        assert cls.__doc__
    assert issubclass(streamkit.Error, Exception)
    assert issubclass(streamkit.TimeoutError, TimeoutError)
    assert issubclass(streamkit.InvalidArgument, ValueError)
    assert not issubclass(streamkit.ClosedError, ValueError)


def test_generate_key_and_public_key() -> None:
    k1, k2 = streamkit.generate_key(), streamkit.generate_key()
    assert k1 != k2
    assert "PRIVATE KEY" in k1
    with streamkit.Peer(private_key=k1) as p, streamkit.Peer(private_key=k1) as q:
        assert p.public_key.startswith("ssh-ed25519 ")
        assert p.public_key == q.public_key  # same key text -> same identity
        assert p.get_option(streamkit.OPT_PRIVATE_KEY) == k1


def test_private_key_from_path(tmp_path: pathlib.Path, ids: tuple[Identity, Identity]) -> None:
    path = tmp_path / "id_ed25519"
    path.write_text(ids[0].private_key)
    path.chmod(0o600)
    with streamkit.Peer(private_key=path) as p:  # os.PathLike accepted
        assert p.public_key == ids[0].public_key
    with streamkit.Peer() as p:
        p.set_option(streamkit.OPT_PRIVATE_KEY, str(path))
        assert p.public_key == ids[0].public_key


def test_constructor_options_and_set_get_option(ids: tuple[Identity, Identity]) -> None:
    ia, ib = ids
    with streamkit.Peer(
        name="n1",
        private_key=ia.private_key,
        authorized_keys=ib.public_key,
        known_hosts=None,
        reconnect_interval=0.25,
        reconnect_interval_max=2,
        connect_timeout=3.0,
        max_frame_size=4096,
        keepalive_interval=7.5,
        keepalive_count=4,
        handshake_timeout=5,
        max_channels=100,
        accept_backlog=16,
    ) as p:
        assert p.name == "n1"
        assert p.get_option(streamkit.OPT_NAME) == "n1"
        assert p.get_option(streamkit.OPT_AUTHORIZED_KEYS) == ib.public_key
        assert p.get_option(streamkit.OPT_RECONNECT_INTERVAL) == 250
        assert p.get_option(streamkit.OPT_RECONNECT_INTERVAL_MAX) == 2000
        assert p.get_option(streamkit.OPT_CONNECT_TIMEOUT) == 3000
        assert p.get_option(streamkit.OPT_MAX_FRAME_SIZE) == 4096
        assert p.get_option(streamkit.OPT_KEEPALIVE_INTERVAL) == 7500
        assert p.get_option(streamkit.OPT_KEEPALIVE_COUNT) == 4
        assert p.get_option(streamkit.OPT_HANDSHAKE_TIMEOUT) == 5000
        assert p.get_option(streamkit.OPT_MAX_CHANNELS) == 100
        assert p.get_option(streamkit.OPT_ACCEPT_BACKLOG) == 16
        assert p.public_key == ia.public_key

        p.set_option(streamkit.OPT_NAME, "n2")
        assert p.get_option(streamkit.OPT_NAME) == "n2"
        ints = {
            streamkit.OPT_RECONNECT_INTERVAL: 120,
            streamkit.OPT_RECONNECT_INTERVAL_MAX: 0,
            streamkit.OPT_CONNECT_TIMEOUT: 1500,
            streamkit.OPT_MAX_FRAME_SIZE: 1 << 20,
            streamkit.OPT_KEEPALIVE_INTERVAL: 5000,
            streamkit.OPT_KEEPALIVE_COUNT: 4,
            streamkit.OPT_HANDSHAKE_TIMEOUT: 7000,
            streamkit.OPT_MAX_CHANNELS: 100,
            streamkit.OPT_CHANNEL_WINDOW: 1 << 18,
            streamkit.OPT_ACCEPT_BACKLOG: 64,
            streamkit.OPT_WINDOW_BUDGET: 0,
            streamkit.OPT_MAX_CONNECTIONS_PER_KEY: 3,
        }
        for opt, value in ints.items():
            p.set_option(opt, value)
            assert p.get_option(opt) == value, opt
        p.set_option(streamkit.OPT_KNOWN_HOSTS, "")
        assert p.get_option(streamkit.OPT_KNOWN_HOSTS) == ""
        p.set_option(streamkit.OPT_RECONNECT_INTERVAL, -1)
        assert p.get_option(streamkit.OPT_RECONNECT_INTERVAL) == -1


def test_default_name_is_uuid() -> None:
    with streamkit.Peer() as p:
        assert re.fullmatch(r"[0-9a-f-]{36}", p.name)
        assert repr(p).startswith("<streamkit.Peer")


def test_bind_returns_real_endpoint(pair: Pair, short_dir: str) -> None:
    if pair.transport == "tcp":
        m = re.fullmatch(r"tcp://127\.0\.0\.1:(\d+)", pair.endpoint)
        assert m and int(m.group(1)) != 0
    elif pair.transport == "unix":
        assert pair.endpoint.startswith("unix:///")
    else:
        assert pair.endpoint.startswith("inproc://")
    second = pair.a.bind(endpoint(pair.transport, short_dir))
    assert second != pair.endpoint
    pair.a.unbind(second)


def test_peers_next_peer(pair: Pair) -> None:
    assert pair.a.peers() == ["bob"]
    assert pair.b.peers() == ["alice"]
    assert pair.b.next_peer() == "alice"
    assert pair.a.next_peer() == "bob"
    with streamkit.Peer() as lonely:
        assert lonely.peers() == []
        assert lonely.next_peer() is None


def test_peers_sorted_and_round_robin(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    ia, ib = ids
    hub = streamkit.Peer(name="hub", private_key=ia.private_key, authorized_keys=ib.public_key)
    spokes = [
        streamkit.Peer(name=n, private_key=ib.private_key, authorized_keys=ia.public_key)
        for n in ("zed", "amy", "kim")
    ]
    try:
        ep = bind_or_skip(hub, endpoint(transport, short_dir))
        for s in spokes:
            s.connect(ep)
        deadline = time.monotonic() + 5
        while len(hub.peers()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hub.peers() == ["amy", "kim", "zed"]
        seen = {hub.next_peer() for _ in range(6)}
        assert seen == {"amy", "kim", "zed"}
    finally:
        shutdown_quietly(hub, *spokes)


def test_channel_bytes_frames_errors_trailers(pair: Pair) -> None:
    ch = pair.b.open("alice", "echo", ["k=v", "x=1"])
    srv = pair.a.accept(timeout=5)

    meta = srv.meta
    assert isinstance(meta, streamkit.ChannelMeta)
    assert (meta.service, meta.headers, meta.local_peer, meta.remote_peer) == ("echo", ["k=v", "x=1"], "alice", "bob")
    assert (ch.meta.service, ch.meta.headers) == ("echo", ["k=v", "x=1"])
    assert (ch.meta.local_peer, ch.meta.remote_peer) == ("bob", "alice")
    assert meta.trailers == []

    # byte stream, with every bytes-like type
    assert ch.write(b"abc") == 3
    assert ch.write(bytearray(b"def")) == 3
    assert ch.write(memoryview(b"xxghixx")[2:5]) == 3
    assert ch.write(array.array("B", b"jk")) == 2
    got = b""
    while len(got) < 11:
        chunk = srv.read(64)
        assert chunk
        got += chunk
    assert got == b"abcdefghijk"

    # frames
    ch.write_frame(b"one")
    ch.write_frame(bytearray(b"two"))
    ch.write_frame(memoryview(b"three"))
    ch.write_frame(b"")

    class Sub(bytes):
        pass

    ch.write_frame(Sub(b"sub"))  # a bytes subclass goes through the buffer protocol
    assert srv.read_frame(timeout=5) == b"one"
    assert srv.read_frame() == b"two"
    assert srv.read_frame(timeout=5.0) == b"three"
    assert srv.read_frame() == b""
    assert srv.read_frame(timeout=5) == b"sub"

    # error frames, both directions
    ch.write_error(b"oops")
    srv.write_error(bytearray(b"bad request"))
    assert srv.read_error(timeout=5) == b"oops"
    assert ch.read_error(timeout=5) == b"bad request"

    # server answers, sends trailers and closes for writing
    srv.write_frame(b"reply")
    srv.write_trailers(["status=0", "elapsed=1ms"])
    srv.close_write()
    assert ch.read_frame(timeout=5) == b"reply"
    assert ch.read_frame(timeout=5) is None  # clean EOF
    assert ch.read(10) == b""  # and EOF on the byte stream
    assert ch.meta.trailers == ["status=0", "elapsed=1ms"]

    # client half can still write after the server's close_write
    ch.write_trailers(["done=yes"])
    ch.close()
    assert srv.read_frame(timeout=5) is None
    assert srv.read_error(timeout=5) is None
    assert srv.meta.trailers == ["done=yes"]
    srv.close()
    srv.close()  # idempotent
    assert wait_until(lambda: ch.closed and srv.closed)


def test_headers_and_trailers_as_dicts(pair: Pair) -> None:
    ch = pair.b.open("alice", "dicts", {"user": "me", "lang": "py"})
    srv = pair.a.accept(timeout=5)
    assert srv.meta.headers == ["user=me", "lang=py"]
    child = ch.open("kid", {"depth": "1"})
    assert srv.accept(timeout=5).meta.headers == ["depth=1"]
    srv.write_trailers({"status": "0"})
    srv.close()
    assert ch.read_frame(timeout=5) is None
    assert ch.meta.trailers == ["status=0"]
    child.close()


def test_iteration_over_frames(pair: Pair) -> None:
    ch = pair.b.open("alice", "stream")
    srv = pair.a.accept(timeout=5)
    frames = [bytes([i]) * i for i in range(50)]
    for f in frames:
        ch.write_frame(f)
    ch.close_write()
    assert list(srv) == frames
    assert srv.read_frame() is None


def test_read_sizes(pair: Pair) -> None:
    ch = pair.b.open("alice", "bytes")
    srv = pair.a.accept(timeout=5)
    assert srv.read(0) == b""
    ch.write(b"0123456789")
    first = srv.read(4)
    assert 1 <= len(first) <= 4
    rest = b""
    while len(first + rest) < 10:
        rest += srv.read()
    assert first + rest == b"0123456789"
    with pytest.raises(streamkit.TimeoutError):
        srv.read(10, timeout=0.05)
    ch.close()


def test_readinto(pair: Pair) -> None:
    ch = pair.b.open("alice", "into")
    srv = pair.a.accept(timeout=5)
    ch.write(b"0123456789")
    buf = bytearray(4)
    n = srv.readinto(buf, timeout=5)
    assert 1 <= n <= 4 and buf[:n] == b"0123"[:n]
    got = bytes(buf[:n])
    big = bytearray(100)
    view = memoryview(big)[10:]  # into the middle of a buffer
    while len(got) < 10:
        k = srv.readinto(view[len(got) :])
        assert k > 0
        got += bytes(view[len(got) : len(got) + k])
    assert got == b"0123456789"
    assert big[:10] == bytes(10)  # untouched before the view
    assert srv.readinto(bytearray()) == 0
    with pytest.raises(streamkit.TimeoutError):
        srv.readinto(buf, timeout=0.05)
    with pytest.raises(TypeError, match="writable bytes-like"):
        srv.readinto(b"read-only bytes")
    with pytest.raises(TypeError, match="writable bytes-like"):
        srv.readinto(memoryview(b"read-only"))
    ch.close_write()
    assert srv.readinto(buf, timeout=5) == 0  # EOF


def test_large_transfer(pair: Pair) -> None:
    ch = pair.b.open("alice", "bulk")
    srv = pair.a.accept(timeout=5)
    blob = bytes(range(256)) * 4096  # 1 MiB, bigger than the channel window
    done: list[bytes] = []

    def reader() -> None:
        buf = bytearray()
        while True:
            chunk = srv.read()
            if not chunk:
                break
            buf += chunk
        done.append(bytes(buf))

    t = threading.Thread(target=reader)
    t.start()
    assert ch.write(blob) == len(blob)
    big_frame = blob[: 3 << 18]
    ch.close_write()
    t.join(30)
    assert done == [blob]

    # a frame bigger than the window: written while the other side reads it
    w = threading.Thread(target=srv.write_frame, args=(big_frame,))
    w.start()
    assert ch.read_frame(timeout=10) == big_frame
    w.join(10)
    assert not w.is_alive()


def test_context_managers(pair: Pair) -> None:
    with pair.b.open("alice", "cm") as ch:
        with pair.a.accept(timeout=5) as srv:
            ch.write_frame(b"x")
            assert srv.read_frame() == b"x"
        assert ch.read_frame(timeout=5) is None
    assert wait_until(lambda: ch.closed and srv.closed)


def test_peer_context_manager_shuts_down(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    with streamkit.Peer(private_key=ids[0].private_key) as p:
        bind_or_skip(p, endpoint(transport, short_dir))
        assert not p.is_shutdown
    assert p.is_shutdown
    with pytest.raises(streamkit.ClosedError):
        p.shutdown()
    # leaving the block after an explicit shutdown is fine
    with streamkit.Peer() as q:
        q.shutdown()
    assert q.is_shutdown


def test_nested_channels(pair: Pair) -> None:
    parent = pair.b.open("alice", "mux")
    srv_parent = pair.a.accept(timeout=5)
    child = parent.open("inner", ["depth=1"])
    srv_child = srv_parent.accept(timeout=5)
    assert srv_child.meta.service == "inner"
    assert srv_child.meta.headers == ["depth=1"]
    child.write_frame(b"deep")
    assert srv_child.read_frame(timeout=5) == b"deep"

    # and the other direction, two levels deep
    back = srv_child.open("grandchild")
    got = child.accept(timeout=5)
    assert got.meta.service == "grandchild"
    back.write(b"up")
    assert got.read(2) == b"up"
    with pytest.raises(streamkit.TimeoutError):
        srv_parent.accept(timeout=0.05)
    for c in (back, got, child, srv_child, parent, srv_parent):
        c.close()


def test_join_with_socket(pair: Pair) -> None:
    ch = pair.b.open("alice", "tunnel")
    srv = pair.a.accept(timeout=5)
    s_ours, s_theirs = socket.socketpair()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            srv.join(s_theirs)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    s_ours.sendall(b"ping")
    assert ch.read(4, timeout=5) == b"ping"
    ch.write(b"pong")
    s_ours.settimeout(5)
    assert s_ours.recv(4) == b"pong"
    ch.close_write()
    assert s_ours.recv(4) == b""  # EOF forwarded to the socket
    s_ours.shutdown(socket.SHUT_WR)
    assert ch.read(4, timeout=5) == b""  # and from the socket to the channel
    t.join(10)
    assert not t.is_alive() and errors == []
    # join dup'ed the fd: the caller's socket object is still its own, and
    # still in blocking mode (the shared O_NONBLOCK flag was never touched)
    assert s_theirs.fileno() >= 0
    assert fcntl.fcntl(s_theirs.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK == 0
    s_ours.close()
    s_theirs.close()


def test_join_with_fileno_object_and_tcp(pair: Pair) -> None:
    ch = pair.b.open("alice", "tunnel")
    srv = pair.a.accept(timeout=5)
    lst = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(lst.getsockname())
    s, _ = lst.accept()

    class Wrapper:
        def fileno(self) -> int:
            return s.fileno()

    t = threading.Thread(target=srv.join, args=(Wrapper(),))
    t.start()
    c.sendall(b"hello over tcp")
    got = b""
    while len(got) < 14:
        got += ch.read(64, timeout=5)
    assert got == b"hello over tcp"
    ch.write(b"back")
    ch.close_write()
    c.settimeout(5)
    assert c.recv(10) == b"back"
    assert c.recv(10) == b""
    c.close()  # EOF from the socket ends the splice
    assert ch.read(10, timeout=5) == b""
    t.join(10)
    assert not t.is_alive()
    for x in (s, lst):
        x.close()


def test_unbind_disconnect_drop(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    pair = make_pair(ids, transport, short_dir)
    try:
        ch = pair.b.open("alice", "x")
        srv = pair.a.accept(timeout=5)  # keep a reference: a dropped channel closes cleanly
        pair.b.disconnect(pair.endpoint)
        deadline = time.monotonic() + 5
        while (pair.a.peers() or pair.b.peers()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pair.a.peers() == [] and pair.b.peers() == []
        with pytest.raises(streamkit.ClosedError):
            ch.read_frame(timeout=5)
        with pytest.raises(streamkit.NoPeerError):
            pair.b.open("alice", "x")

        pair.b.connect(pair.endpoint)
        assert pair.b.peers() == ["alice"]
        ch = pair.b.open("alice", "y")
        srv = pair.a.accept(timeout=5)
        pair.a.drop("bob")
        with pytest.raises(streamkit.ClosedError):
            ch.read_frame(timeout=5)
        with pytest.raises(streamkit.NoPeerError):
            pair.a.drop("nobody")
        del srv

        pair.a.unbind(pair.endpoint)
        with streamkit.Peer(
            private_key=ids[1].private_key, authorized_keys=ids[0].public_key, connect_timeout=0.3
        ) as late:
            with pytest.raises(streamkit.Error):
                late.connect(pair.endpoint)
    finally:
        shutdown_quietly(pair.a, pair.b)


def test_accept_timeout(pair: Pair) -> None:
    t0 = time.monotonic()
    with pytest.raises(streamkit.TimeoutError) as info:
        pair.a.accept(timeout=0.2)
    elapsed = time.monotonic() - t0
    assert 0.19 <= elapsed < 30  # never early; the upper bound is liveness only
    assert isinstance(info.value, TimeoutError)  # the builtin too
    assert "accept" in str(info.value)
    with pytest.raises(TimeoutError):
        pair.a.accept(timeout=0)


def test_read_frame_timeout_and_buffered_fast_path(pair: Pair) -> None:
    ch = pair.b.open("alice", "fast")
    srv = pair.a.accept(timeout=5)
    with pytest.raises(streamkit.TimeoutError):
        srv.read_frame(timeout=0)
    with pytest.raises(streamkit.TimeoutError):
        srv.read_error(timeout=0.01)
    for i in range(100):
        ch.write_frame(b"%d" % i)
    assert srv.read_frame(timeout=5) == b"0"
    deadline = time.monotonic() + 5
    got = [b"0"]
    while len(got) < 100 and time.monotonic() < deadline:
        try:
            f = srv.read_frame(timeout=0)  # only what is already buffered
        except streamkit.TimeoutError:
            time.sleep(0.001)
            continue
        assert f is not None
        got.append(f)
    assert got == [b"%d" % i for i in range(100)]


def test_open_unknown_peer_and_errors_after_shutdown(pair: Pair) -> None:
    with pytest.raises(streamkit.NoPeerError, match="nobody"):
        pair.b.open("nobody", "svc")
    ch = pair.b.open("alice", "svc")
    srv = pair.a.accept(timeout=5)
    pair.a.shutdown()
    with pytest.raises(streamkit.ClosedError):
        pair.a.shutdown()
    with pytest.raises(streamkit.ClosedError):
        pair.a.accept(timeout=1)
    with pytest.raises(streamkit.ClosedError):
        pair.a.bind("tcp://127.0.0.1:0")
    with pytest.raises(streamkit.ClosedError):
        srv.write_frame(b"x")
    with pytest.raises(streamkit.ClosedError):
        ch.read_frame(timeout=5)


def test_max_frame_size_protocol_error(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    ia, ib = ids
    # The limit is taken when a connection is made, so set it up front.
    a = streamkit.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key, max_frame_size=1024)
    b = streamkit.Peer(name="bob", private_key=ib.private_key, authorized_keys=ia.public_key)
    try:
        b.connect(bind_or_skip(a, endpoint(transport, short_dir)))
        ch = b.open("alice", "big")
        srv = a.accept(timeout=5)
        ch.write_frame(b"x" * 1024)
        assert srv.read_frame(timeout=5) == b"x" * 1024
        ch.write_frame(b"y" * 4096)
        with pytest.raises(streamkit.ProtocolError):
            srv.read_frame(timeout=5)
    finally:
        shutdown_quietly(a, b)


# inproc:// is excluded by design, not skipped: the core documents that trust
# checks do not apply to in-process connections (no SSH there).
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_untrusted_key_is_auth_error(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    ia, ib = ids
    with streamkit.Peer(private_key=ia.private_key, authorized_keys=ib.public_key) as server:
        ep = bind_or_skip(server, endpoint(transport, short_dir))
        # server not trusted by the client
        with streamkit.Peer(private_key=ib.private_key, authorized_keys="", connect_timeout=2) as c:
            with pytest.raises(streamkit.AuthError):
                c.connect(ep)
        # client not trusted by the server
        stranger = streamkit.generate_key()
        with streamkit.Peer(private_key=stranger, authorized_keys=ia.public_key, connect_timeout=2) as c:
            with pytest.raises(streamkit.AuthError):
                c.connect(ep)
        assert server.peers() == []


def test_connect_timeout(short_dir: str) -> None:
    with streamkit.Peer(connect_timeout=0.3, reconnect_interval=0.05) as p:
        t0 = time.monotonic()
        with pytest.raises(streamkit.TimeoutError):
            p.connect(f"unix://{short_dir}/nobody-here.sock")
        assert time.monotonic() - t0 < 30  # liveness: the timeout ended the retries


def test_channel_gc_closes_it(pair: Pair) -> None:
    ch = pair.b.open("alice", "gc")
    srv = pair.a.accept(timeout=5)
    ch.write_frame(b"last")
    del ch
    gc.collect()
    assert srv.read_frame(timeout=5) == b"last"
    assert srv.read_frame(timeout=5) is None


def test_meta_outlives_channel_reference(pair: Pair) -> None:
    ch = pair.b.open("alice", "meta", ["a=b"])
    srv = pair.a.accept(timeout=5)
    meta = srv.meta
    del srv
    ch.write_trailers(["t=1"])
    ch.close()
    deadline = time.monotonic() + 5
    while meta.trailers != ["t=1"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert meta.trailers == ["t=1"]
    assert "meta" in repr(meta)


def test_docstrings_everywhere() -> None:
    for cls in (streamkit.Peer, streamkit.Channel, streamkit.ChannelMeta):
        assert cls.__doc__ and len(cls.__doc__) > 40, cls
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            assert member.__doc__, f"{cls.__name__}.{name} has no docstring"
    assert streamkit.generate_key.__doc__
    assert streamkit.__doc__
    text = pydoc_text(streamkit.Peer)
    for word in ("bind", "connect", "accept", "timeout", "authorized_keys", "shutdown"):
        assert word in text


def pydoc_text(obj: object) -> str:
    import pydoc

    return pydoc.plain(pydoc.render_doc(obj))


def test_channel_cannot_be_constructed() -> None:
    with pytest.raises(TypeError):
        streamkit.Channel()
    with pytest.raises(TypeError):
        streamkit.ChannelMeta()


def test_known_hosts(ids: tuple[Identity, Identity], tmp_path: pathlib.Path) -> None:
    ia, ib = ids
    with streamkit.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key) as server:
        ep = server.bind("tcp://127.0.0.1:0")
        port = ep.rsplit(":", 1)[1]
        good = tmp_path / "known_hosts"
        good.write_text(f"[127.0.0.1]:{port} {ia.public_key}\n")
        # authorized_keys="" trusts no server key: only KNOWN_HOSTS vouches for alice
        with streamkit.Peer(private_key=ib.private_key, authorized_keys="", known_hosts=good) as c:
            c.connect(ep)
            assert c.peers() == ["alice"]
            assert c.get_option(streamkit.OPT_KNOWN_HOSTS) == str(good)
        wrong = f"[127.0.0.1]:{port} {ib.public_key}\n"
        with streamkit.Peer(private_key=ib.private_key, known_hosts=wrong, connect_timeout=2) as c:
            with pytest.raises(streamkit.AuthError, match="KNOWN_HOSTS"):
                c.connect(ep)
