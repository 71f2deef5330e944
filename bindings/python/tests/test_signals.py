"""Ctrl-C (SIGINT) interrupts blocking calls with KeyboardInterrupt.

Every call tested here would otherwise block forever (or for 30 s), so
returning with KeyboardInterrupt at all is the property; the bound below is a
liveness limit that only a call ignoring the signal reaches, not a latency
target (a blocked call checks for signals about every 100 ms)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest
from conftest import Pair

import streamkit

LIMIT = 10.0  # seconds from the signal to the exception: a liveness bound only


def interrupt_after(delay: float, sent: list[float]) -> threading.Thread:
    def fire() -> None:
        time.sleep(delay)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    return t


def assert_interrupts(call: Callable[[], object]) -> float:
    assert threading.current_thread() is threading.main_thread()
    sent: list[float] = []
    t = interrupt_after(0.3, sent)
    with pytest.raises(KeyboardInterrupt):
        call()
    latency = time.monotonic() - sent[0]
    t.join()
    assert latency < LIMIT, f"KeyboardInterrupt took {latency * 1000:.0f} ms"
    return latency


def test_ctrl_c_interrupts_accept(pair: Pair) -> None:
    assert_interrupts(lambda: pair.a.accept())
    # the peer is still usable afterwards
    ch = pair.b.open("alice", "after")
    assert pair.a.accept(timeout=5).meta.service == "after"
    ch.close()


def test_ctrl_c_interrupts_accept_with_timeout(pair: Pair) -> None:
    assert_interrupts(lambda: pair.a.accept(timeout=30))


def test_ctrl_c_interrupts_reads(pair: Pair) -> None:
    ch = pair.b.open("alice", "reads")
    srv = pair.a.accept(timeout=5)
    assert_interrupts(lambda: srv.read_frame())
    assert_interrupts(lambda: srv.read())
    assert_interrupts(lambda: srv.read_error(timeout=60))
    assert_interrupts(lambda: srv.accept())
    # reads are cancel-safe: nothing was lost
    ch.write_frame(b"still here")
    assert srv.read_frame(timeout=5) == b"still here"


CHILD = textwrap.dedent(
    """
    import sys, time, streamkit
    p = streamkit.Peer()
    p.bind("tcp://127.0.0.1:0")
    print("ready", flush=True)
    try:
        p.accept()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(0)
    print("accept returned", flush=True)
    sys.exit(1)
    """
)


def test_ctrl_c_in_another_process() -> None:
    with subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True) as proc:
        _check_child(proc)


def _check_child(proc: "subprocess.Popen[str]") -> None:
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        latency = time.monotonic() - t0
        assert line == "interrupted"
        assert proc.wait(10) == 0
        assert latency < LIMIT + 0.1, f"{latency * 1000:.0f} ms"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_interrupts_a_write_blocked_by_flow_control(pair: Pair) -> None:
    ch = pair.b.open("alice", "nobody-reads")
    srv = pair.a.accept(timeout=5)
    # far more than the channel window, and nobody reads on the other side
    assert_interrupts(lambda: srv.write(bytes(64 << 20)))
    ch.close()
