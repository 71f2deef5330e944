"""Peers and channels garbage-collected without close/shutdown release their resources."""

from __future__ import annotations

import gc
import os
from typing import Any

from conftest import Identity, wait_until

import streamkit


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def churn(ids: tuple[Identity, Identity], short_dir: str, n: int) -> None:
    ia, ib = ids
    for i in range(n):
        p = streamkit.Peer(name=f"p{i}", private_key=ia.private_key, authorized_keys=ib.public_key)
        if i % 3 == 2:
            ep = p.bind(f"unix://{short_dir}/g{i}.sock")
        else:
            ep = p.bind("tcp://127.0.0.1:0")
        if i % 25 == 0:
            # a live connection with open channels, abandoned too
            q = streamkit.Peer(name=f"q{i}", private_key=ib.private_key, authorized_keys=ia.public_key)
            q.connect(ep)
            ch = q.open(f"p{i}", "leak")
            ch.write_frame(b"data")
            srv = p.accept(timeout=5)
            assert srv.read_frame(timeout=5) == b"data"
            del q, ch, srv
        del p


def test_1000_dropped_peers_release_fds_and_threads(ids: tuple[Identity, Identity], short_dir: str) -> None:
    churn(ids, short_dir, 20)  # warm up: runtime workers, lazy statics
    gc.collect()
    assert wait_until(lambda: open_fds() == open_fds(), 1)
    base_fds, base_threads = open_fds(), threads()

    churn(ids, short_dir, 1000)
    gc.collect()
    ok = wait_until(lambda: open_fds() <= base_fds, 15)
    assert ok, f"fds: baseline {base_fds}, now {open_fds()}: {sorted(os.listdir('/proc/self/fd'))}"
    # No thread per peer: only the fixed runtime (plus tokio's idle blocking
    # pool, which shrinks on its own) remains.
    assert threads() <= base_threads + 4, (base_threads, threads())
    # unix socket files of dropped listeners are removed
    assert wait_until(lambda: not [f for f in os.listdir(short_dir) if f.endswith(".sock")], 5), os.listdir(short_dir)


def test_weakrefs_and_finalization(ids: tuple[Identity, Identity], short_dir: str) -> None:
    import weakref

    ia, ib = ids
    p = streamkit.Peer(private_key=ia.private_key, authorized_keys=ib.public_key)
    q = streamkit.Peer(name="q", private_key=ib.private_key, authorized_keys=ia.public_key)
    ep = p.bind("tcp://127.0.0.1:0")
    q.connect(ep)
    ch = q.open(p.name, "weak")
    refs: list[weakref.ref[Any]] = [weakref.ref(p), weakref.ref(q), weakref.ref(ch)]
    base = open_fds()
    del p, q, ch
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert wait_until(lambda: open_fds() < base, 5)  # listener and both connection ends closed
