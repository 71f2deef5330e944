"""Blocking calls release the GIL; shutdown from another thread unblocks them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from conftest import Pair

import streamkit


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[BaseException], list[object]]:
    errors: list[BaseException] = []
    results: list[object] = []

    def target() -> None:
        try:
            results.append(fn())
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, errors, results


def test_blocked_accept_releases_the_gil(pair: Pair) -> None:
    t, errors, results = run_in_thread(lambda: pair.a.accept(timeout=3))
    time.sleep(0.05)
    # The main thread keeps running Python code while the other thread waits.
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.3:
        n += 1
    assert t.is_alive()
    assert n > 10_000
    ch = pair.b.open("alice", "wake")
    t.join(5)
    assert not t.is_alive() and errors == []
    assert isinstance(results[0], streamkit.Channel)
    ch.close()


def test_many_threads_blocked_in_read_frame(pair: Pair) -> None:
    chans = [pair.b.open("alice", f"s{i}") for i in range(8)]
    srvs = [pair.a.accept(timeout=5) for _ in chans]
    threads = [run_in_thread(lambda s=s: s.read_frame()) for s in srvs]  # type: ignore[misc]
    time.sleep(0.1)
    assert all(t.is_alive() for t, _, _ in threads)
    for c in chans:
        c.write_frame(c.meta.service.encode())
    for (t, errors, results), s in zip(threads, srvs):
        t.join(5)
        assert errors == []
        assert results == [s.meta.service.encode()]


def test_shutdown_unblocks_accept_and_reads(pair: Pair) -> None:
    ch = pair.b.open("alice", "blocked")
    srv = pair.a.accept(timeout=5)
    blocked = [
        run_in_thread(lambda: pair.a.accept()),
        run_in_thread(lambda: srv.read_frame()),
        run_in_thread(lambda: srv.read()),
        run_in_thread(lambda: srv.read_error()),
        run_in_thread(lambda: srv.accept()),
        run_in_thread(lambda: ch.read_frame()),  # other peer's side: connection goes away
    ]
    time.sleep(0.2)
    assert all(t.is_alive() for t, _, _ in blocked)
    pair.a.shutdown()
    for t, errors, results in blocked:
        t.join(30)  # liveness only: shutdown must unblock it
        assert not t.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], streamkit.ClosedError), (errors, results)


def test_shutdown_from_thread_while_main_blocks(pair: Pair) -> None:
    timer = threading.Timer(0.2, pair.a.shutdown)
    timer.start()
    t0 = time.monotonic()
    try:
        pair.a.accept()
    except streamkit.ClosedError:
        pass
    else:  # pragma: no cover
        raise AssertionError("accept() returned after shutdown")
    assert time.monotonic() - t0 < 30  # liveness only: shutdown unblocked it
    timer.join()


def test_concurrent_writers_on_one_channel(pair: Pair) -> None:
    ch = pair.b.open("alice", "fanin")
    srv = pair.a.accept(timeout=5)
    per_thread = 200

    def writer(tag: int) -> None:
        for i in range(per_thread):
            ch.write_frame(b"%d:%d" % (tag, i))

    ws = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for w in ws:
        w.start()
    got: list[bytes] = []
    while len(got) < 4 * per_thread:
        f = srv.read_frame(timeout=10)
        assert f is not None
        got.append(f)
    for w in ws:
        w.join(10)
    # frames are never interleaved or torn, and each writer's order is kept
    for k in range(4):
        mine = [f for f in got if f.startswith(b"%d:" % k)]
        assert mine == [b"%d:%d" % (k, i) for i in range(per_thread)]
