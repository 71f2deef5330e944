#!/usr/bin/env python3
"""streamkit vs pyzmq PUSH/PULL over tcp loopback, one process per side.

Prints 64-byte frames/s (one way) and bulk MB/s (64 KiB writes) for
streamkit (frames with write_frame/read_frame, bulk with write/read on the
byte stream), the same with streamkit.aio (both sides asyncio: awaited
write_frame, `async for` over frames, awaited write/read) and for pyzmq PUSH/PULL (one message per frame / per 64 KiB
chunk) in plaintext and with CURVE encryption (libzmq's CurveZMQ, when
pyzmq's libzmq has it: the encrypted baseline streamkit's SSH compares
with), measured in the same run. The receiver times from the first message
to the last, so connection setup is excluded. Each figure is the best of
--repeat rounds; within a round the libraries run one after the other.

usage: bench.py [--frames N] [--bulk-mb MB] [--repeat R]
(pyzmq is optional: without it, its rows are skipped with a note.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

FRAME = b"x" * 64
CHUNK = 64 * 1024
READ = int(os.environ.get("SK_BENCH_READ", 256 * 1024))
RTT_WARM = 1000


def percentiles(lat: list[float]) -> str:
    """'p50 p99' in microseconds (what mode "rtt" prints)."""
    lat.sort()
    return f"{lat[len(lat) // 2] * 1e6} {lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e6}"


def env_keys() -> tuple[str, str]:
    return os.environ["SK_KEY"], os.environ["SK_TRUST"]


# ---------------------------------------------------------------- streamkit


def sk_recv(mode: str, count: int) -> None:
    import streamkit

    key, trust = env_keys()
    with streamkit.Peer(name="recv", private_key=key, authorized_keys=trust) as peer:
        print(peer.bind("tcp://127.0.0.1:0"), flush=True)
        ch = peer.accept(timeout=30)
        if mode == "rtt":
            # this side measures: write a frame, wait for its echo
            lat: list[float] = []
            for i in range(RTT_WARM + count):
                t = time.perf_counter()
                ch.write_frame(FRAME)
                assert ch.read_frame() == FRAME
                if i >= RTT_WARM:
                    lat.append(time.perf_counter() - t)
            print(percentiles(lat), flush=True)
            ch.close_write()  # ends the echo loop; the echo side then shuts down
            try:
                ch.read_frame(timeout=60)
            except streamkit.ClosedError:
                pass
        elif mode == "frames":
            first = ch.read_frame()
            assert first is not None
            t0 = time.perf_counter()
            n = 1
            while True:
                f = ch.read_frame()
                if f is None:
                    break
                n += 1
            dt = time.perf_counter() - t0
            assert n == count, (n, count)
            print(f"{(n - 1) / dt}", flush=True)
        elif os.environ.get("SK_BENCH_READINTO"):
            buf = bytearray(READ)
            first_n = ch.readinto(buf)
            t0 = time.perf_counter()
            total = first_n
            readinto = ch.readinto
            while True:
                k = readinto(buf)
                if not k:
                    break
                total += k
            dt = time.perf_counter() - t0
            assert total == count * CHUNK, (total, count * CHUNK)
            print(f"{(total - first_n) / dt / 1e6}", flush=True)
        else:
            first_chunk = ch.read(READ)
            t0 = time.perf_counter()
            total = len(first_chunk)
            read = ch.read
            while True:
                b = read(READ)
                if not b:
                    break
                total += len(b)
            dt = time.perf_counter() - t0
            assert total == count * CHUNK, (total, count * CHUNK)
            print(f"{(total - len(first_chunk)) / dt / 1e6}", flush=True)
        ch.close()


def sk_send(mode: str, count: int, endpoint: str) -> None:
    import streamkit

    key, trust = env_keys()
    with streamkit.Peer(name="send", private_key=key, authorized_keys=trust) as peer:
        peer.connect(endpoint)
        ch = peer.open("recv", "bench")
        if mode == "rtt":  # echo until the measuring side half-closes, then shut down
            while (f := ch.read_frame()) is not None:
                ch.write_frame(f)
            return
        if mode == "frames":
            wf = ch.write_frame
            frame = FRAME
            for _ in range(count):
                wf(frame)
        else:
            w = ch.write
            chunk = memoryview(bytearray(CHUNK))
            for _ in range(count):
                w(chunk)
        ch.close_write()
        # Wait for the receiver to finish before shutting down. It closes the
        # channel and exits right away, so the connection may go first.
        try:
            ch.read_frame(timeout=60)
        except streamkit.ClosedError:
            pass


# ---------------------------------------------------------------- streamkit.aio


def aio_recv(mode: str, count: int) -> None:
    asyncio.run(_aio_recv(mode, count))


async def _aio_recv(mode: str, count: int) -> None:
    import streamkit
    from streamkit import aio

    key, trust = env_keys()
    async with aio.Peer(name="recv", private_key=key, authorized_keys=trust) as peer:
        print(await peer.bind("tcp://127.0.0.1:0"), flush=True)
        ch = await asyncio.wait_for(peer.accept(), 30)
        if mode == "rtt":
            lat: list[float] = []
            for i in range(RTT_WARM + count):
                t = time.perf_counter()
                await ch.write_frame(FRAME)
                assert await ch.read_frame() == FRAME
                if i >= RTT_WARM:
                    lat.append(time.perf_counter() - t)
            print(percentiles(lat), flush=True)
            await ch.close_write()  # ends the echo loop; the echo side then shuts down
            try:
                await asyncio.wait_for(ch.read_frame(), 60)
            except streamkit.ClosedError:
                pass
        elif mode == "frames":
            first = await ch.read_frame()
            assert first is not None
            t0 = time.perf_counter()
            n = 1
            async for _ in ch:
                n += 1
            dt = time.perf_counter() - t0
            assert n == count, (n, count)
            print(f"{(n - 1) / dt}", flush=True)
        else:
            first_chunk = await ch.read(READ)
            t0 = time.perf_counter()
            total = len(first_chunk)
            read = ch.read
            while True:
                b = await read(READ)
                if not b:
                    break
                total += len(b)
            dt = time.perf_counter() - t0
            assert total == count * CHUNK, (total, count * CHUNK)
            print(f"{(total - len(first_chunk)) / dt / 1e6}", flush=True)
        await ch.close()
    _aio_stats("recv", mode, count)


def _aio_stats(side: str, mode: str, count: int) -> None:
    """With SK_BENCH_STATS=1: how many awaits had to wait (stderr)."""
    if os.environ.get("SK_BENCH_STATS"):
        from streamkit import aio

        waits = aio._aio_stats()["waits"]  # type: ignore[attr-defined]
        print(f"aio {mode} {side}: {waits} waits for {count} calls", file=sys.stderr, flush=True)


def aio_send(mode: str, count: int, endpoint: str) -> None:
    asyncio.run(_aio_send(mode, count, endpoint))


async def _aio_send(mode: str, count: int, endpoint: str) -> None:
    import streamkit
    from streamkit import aio

    key, trust = env_keys()
    async with aio.Peer(name="send", private_key=key, authorized_keys=trust) as peer:
        await peer.connect(endpoint)
        ch = await peer.open("recv", "bench")
        if mode == "rtt":  # echo until the measuring side half-closes, then shut down
            async for f in ch:
                await ch.write_frame(f)
            return
        if mode == "frames":
            wf = ch.write_frame
            frame = FRAME
            for _ in range(count):
                await wf(frame)
        else:
            w = ch.write
            chunk = memoryview(bytearray(CHUNK))
            for _ in range(count):
                await w(chunk)
        await ch.close_write()
        try:  # wait for the receiver to finish (see sk_send)
            await asyncio.wait_for(ch.read_frame(), 60)
        except streamkit.ClosedError:
            pass
    _aio_stats("send", mode, count)


# ---------------------------------------------------------------- pyzmq


def zmq_recv(mode: str, count: int, curve: bool = False) -> None:
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    key = ""
    if curve:  # this side is the CURVE server; its public key follows the endpoint
        public, secret = zmq.curve_keypair()
        s.curve_server = True
        s.curve_secretkey = secret
        key = " " + public.decode()
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print(f"tcp://127.0.0.1:{port}{key}", flush=True)
    recv = s.recv
    recv()
    t0 = time.perf_counter()
    for _ in range(count - 1):
        recv()
    dt = time.perf_counter() - t0
    if mode == "frames":
        print(f"{(count - 1) / dt}", flush=True)
    else:
        print(f"{(count - 1) * CHUNK / dt / 1e6}", flush=True)
    s.close(linger=0)
    ctx.term()


def zmq_send(mode: str, count: int, endpoint: str, curve: bool = False) -> None:
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    if curve:  # "endpoint server-public-key" (see zmq_recv); a fresh client key
        endpoint, server_key = endpoint.split(" ", 1)
        public, secret = zmq.curve_keypair()
        s.curve_serverkey = server_key.encode()
        s.curve_publickey = public
        s.curve_secretkey = secret
    s.connect(endpoint)
    send = s.send
    msg: Any = FRAME if mode == "frames" else memoryview(bytearray(CHUNK))
    for _ in range(count):
        send(msg, copy=mode == "frames")
    s.close(linger=-1)  # flush everything
    ctx.term()


# ---------------------------------------------------------------- driver


def run_pair(lib: str, mode: str, count: int, env: dict[str, str]) -> float:
    me = os.path.abspath(__file__)
    kr, kt = env["SK_KEY_R"], env["SK_KEY_S"]
    recv_env = {**env, "SK_KEY": kr, "SK_TRUST": env["SK_PUB_S"]}
    send_env = {**env, "SK_KEY": kt, "SK_TRUST": env["SK_PUB_R"]}
    with subprocess.Popen(
        [sys.executable, me, "--role", f"{lib}-recv", "--mode", mode, "--count", str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=recv_env,
    ) as recv:
        assert recv.stdout is not None
        ep = recv.stdout.readline().strip()
        sender = subprocess.run(
            [sys.executable, me, "--role", f"{lib}-send", "--mode", mode, "--count", str(count), "--endpoint", ep],
            env=send_env,
            timeout=600,
        )
        out = recv.stdout.readline().strip()
        rc = recv.wait(600)
    if sender.returncode != 0 or rc != 0 or not out:
        raise RuntimeError(f"{lib} {mode}: sender rc={sender.returncode} receiver rc={rc} out={out!r}")
    return float(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000, help="64-byte frames per run (default 1e6)")
    ap.add_argument("--bulk-mb", type=int, default=1024, help="MiB per bulk run (default 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure, best is kept (default 3)")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.role:
        roles = {"sk-recv": sk_recv, "aio-recv": aio_recv, "zmq-recv": zmq_recv}
        if a.role in roles:
            roles[a.role](a.mode, a.count)
        elif a.role == "zmqc-recv":
            zmq_recv(a.mode, a.count, curve=True)
        elif a.role == "zmqc-send":
            zmq_send(a.mode, a.count, a.endpoint, curve=True)
        elif a.role == "sk-send":
            sk_send(a.mode, a.count, a.endpoint)
        elif a.role == "aio-send":
            aio_send(a.mode, a.count, a.endpoint)
        elif a.role == "zmq-send":
            zmq_send(a.mode, a.count, a.endpoint)
        else:
            ap.error(f"unknown role {a.role}")
        return 0

    import streamkit

    kr, ks = streamkit.generate_key(), streamkit.generate_key()
    env = {
        **os.environ,
        "SK_KEY_R": kr,
        "SK_KEY_S": ks,
        "SK_PUB_R": streamkit.Peer(private_key=kr).public_key,
        "SK_PUB_S": streamkit.Peer(private_key=ks).public_key,
    }
    chunks = a.bulk_mb * (1 << 20) // CHUNK
    try:
        import zmq

        zmq_note = f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()})"
        libs = ["sk", "aio", "zmq"] + (["zmqc"] if zmq.has("curve") else [])
    except ImportError:
        zmq_note = "pyzmq not installed: its rows are skipped"
        libs = ["sk", "aio"]

    # Alternate the libraries within each round (same minutes on a shared,
    # noisy machine), keep each figure's best round.
    results: dict[tuple[str, str], float] = {}
    for _ in range(a.repeat):
        for mode, count in (("frames", a.frames), ("bulk", chunks)):
            for lib in libs:
                r = run_pair(lib, mode, count, env)
                results[(lib, mode)] = max(results.get((lib, mode), 0.0), r)

    print(f"python {sys.version.split()[0]}, streamkit {streamkit.__version__}, {zmq_note}")
    print(f"tcp loopback, one process per side, best of {a.repeat}; {a.frames} frames, {a.bulk_mb} MiB bulk")
    print(f"{'':24}{'64 B frames/s':>16}{'bulk MB/s (64 KiB)':>22}")
    names = {"sk": "streamkit", "aio": "streamkit.aio", "zmq": "pyzmq PUSH/PULL", "zmqc": "pyzmq + CURVE"}
    for lib in libs:
        print(f"{names[lib]:24}{results[(lib, 'frames')]:>16,.0f}{results[(lib, 'bulk')]:>22,.1f}")
    fr = results[("aio", "frames")] / results[("sk", "frames")]
    br = results[("aio", "bulk")] / results[("sk", "bulk")]
    print(f"{'ratio aio/streamkit':24}{fr:>16.2f}{br:>22.2f}")
    if "zmq" in libs:
        fr = results[("sk", "frames")] / results[("zmq", "frames")]
        br = results[("sk", "bulk")] / results[("zmq", "bulk")]
        print(f"{'ratio streamkit/pyzmq':24}{fr:>16.2f}{br:>22.2f}")
    if "zmqc" in libs:
        fr = results[("sk", "frames")] / results[("zmqc", "frames")]
        br = results[("sk", "bulk")] / results[("zmqc", "bulk")]
        print(f"{'ratio streamkit/+CURVE':24}{fr:>16.2f}{br:>22.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
