"""fork(): the child gets a fresh runtime; the parent's objects are refused there, not hung."""

from __future__ import annotations

import os
import signal
import time
import warnings

from conftest import Identity, Pair

import streamkit


def child_main(ids: tuple[Identity, Identity], inherited: Pair) -> int:
    # 1. objects from the parent: a clear ClosedError instead of a hang
    try:
        inherited.a.accept(timeout=1)
        return 10
    except streamkit.ClosedError as e:
        if "fork" not in str(e):
            return 11
    # 2. new peers work in the child
    ia, ib = ids
    with streamkit.Peer(name="ca", private_key=ia.private_key, authorized_keys=ib.public_key) as a, \
            streamkit.Peer(name="cb", private_key=ib.private_key, authorized_keys=ia.public_key) as b:
        b.connect(a.bind("tcp://127.0.0.1:0"))
        with b.open("ca", "child") as ch, a.accept(timeout=5) as srv:
            ch.write_frame(b"from the child")
            if srv.read_frame(timeout=5) != b"from the child":
                return 12
    return 0


def test_fork_child_gets_a_fresh_runtime(ids: tuple[Identity, Identity], tcp_pair: Pair) -> None:
    with warnings.catch_warnings():
        # 3.12+ warns that forking a multi-threaded process is risky (the
        # runtime's threads): that is exactly what is being tested.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 99
        try:
            code = child_main(ids, tcp_pair)
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("forked child hung")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    # the parent's pair is unaffected
    ch = tcp_pair.b.open("alice", "parent")
    srv = tcp_pair.a.accept(timeout=5)
    ch.write_frame(b"still fine")
    assert srv.read_frame(timeout=5) == b"still fine"
