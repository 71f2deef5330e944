"""Shared fixtures: key pairs, transports and connected peer pairs."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import streamkit

TRANSPORTS = ["tcp", "unix", "inproc"]

# The only condition under which an inproc parametrization may be skipped: the
# core rejects the inproc:// scheme itself as unsupported.
_INPROC_UNSUPPORTED = re.compile(r"inproc.*(unsupported|not supported)|(unsupported|not supported).*inproc", re.I)


@dataclass(frozen=True)
class Identity:
    private_key: str
    public_key: str


def make_identity() -> Identity:
    key = streamkit.generate_key()
    p = streamkit.Peer(private_key=key)
    try:
        return Identity(key, p.public_key)
    finally:
        p.shutdown()


@pytest.fixture(scope="session")
def ids() -> tuple[Identity, Identity]:
    return make_identity(), make_identity()


@pytest.fixture
def short_dir() -> Iterator[str]:
    # unix socket paths are limited to ~108 bytes: keep them short.
    d = tempfile.mkdtemp(prefix="sk", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def endpoint(transport: str, short_dir: str) -> str:
    if transport == "tcp":
        return "tcp://127.0.0.1:0"
    if transport == "unix":
        return f"unix://{os.path.join(short_dir, uuid.uuid4().hex[:8] + '.sock')}"
    if transport == "inproc":
        return f"inproc://test-{uuid.uuid4().hex}"
    raise AssertionError(transport)


def bind_or_skip(peer: streamkit.Peer, ep: str) -> str:
    """bind(), skipping the test only if the core says inproc is unsupported."""
    try:
        return peer.bind(ep)
    except streamkit.InvalidArgument as e:
        if ep.startswith("inproc://") and _INPROC_UNSUPPORTED.search(str(e)):
            pytest.skip(f"core does not support inproc yet: {e}")
        raise


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    t: str = request.param
    return t


@dataclass
class Pair:
    """`a` is bound at `endpoint`, `b` is connected to it; they trust each other."""

    a: streamkit.Peer
    b: streamkit.Peer
    endpoint: str
    transport: str


def make_pair(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> Pair:
    ia, ib = ids
    a = streamkit.Peer(name="alice", private_key=ia.private_key, authorized_keys=ib.public_key)
    b = streamkit.Peer(
        name="bob", private_key=ib.private_key, authorized_keys=ia.public_key, connect_timeout=5
    )
    bound = bind_or_skip(a, endpoint(transport, short_dir))
    b.connect(bound)
    return Pair(a, b, bound, transport)


def shutdown_quietly(*peers: streamkit.Peer) -> None:
    for p in peers:
        if not p.is_shutdown:
            p.shutdown()


@pytest.fixture
def pair(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> Iterator[Pair]:
    p = make_pair(ids, transport, short_dir)
    yield p
    shutdown_quietly(p.a, p.b)


@pytest.fixture
def tcp_pair(ids: tuple[Identity, Identity], short_dir: str) -> Iterator[Pair]:
    p = make_pair(ids, "tcp", short_dir)
    yield p
    shutdown_quietly(p.a, p.b)


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
