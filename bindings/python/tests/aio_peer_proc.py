"""Helper run as a separate process by test_aio_processes.py (not a test module).

The asyncio twin of peer_proc.py: the same "upper" protocol, written with
streamkit.aio, so it can face the blocking implementation in another process.

usage: aio_peer_proc.py server ENDPOINT | client ENDPOINT SERVER_NAME
Keys come from the environment: SK_KEY (own private key), SK_TRUST (the other
side's public key).
"""

from __future__ import annotations

import asyncio
import os
import sys

from streamkit import aio


async def serve(peer: aio.Peer) -> None:
    async with await asyncio.wait_for(peer.accept(), 20) as ch:
        assert ch.meta.service == "upper", ch.meta.service
        assert ch.meta.headers == ["lang=py"], ch.meta.headers
        child = await asyncio.wait_for(ch.accept(), 20)
        await child.write(b"child:" + child.meta.service.encode())
        await child.close()
        async for frame in ch:  # echo frames upper-cased until EOF
            await ch.write_frame(frame.upper())
        await ch.write_error(b"no more")
        await ch.write_trailers(["frames=done", f"pid={os.getpid()}"])
        await ch.close_write()
        # wait for the other side to read everything and close its end
        for _ in range(2000):
            if ch.closed:
                break
            await asyncio.sleep(0.01)
        assert ch.closed


async def client(peer: aio.Peer, server_name: str) -> None:
    async with await peer.open(server_name, "upper", ["lang=py"]) as ch:
        child = await ch.open("kid")
        data = b""
        while True:
            chunk = await asyncio.wait_for(child.read(), 20)
            if not chunk:
                break
            data += chunk
        assert data == b"child:kid", data
        for word in (b"alpha", b"beta", b"gamma"):
            await ch.write_frame(word)
            assert await asyncio.wait_for(ch.read_frame(), 20) == word.upper()
        await ch.close_write()
        assert await asyncio.wait_for(ch.read_error(), 20) == b"no more"
        assert await asyncio.wait_for(ch.read_frame(), 20) is None
        assert ch.meta.trailers[0] == "frames=done", ch.meta.trailers
        print("client ok", ch.meta.trailers[1], flush=True)


async def main() -> int:
    role, ep = sys.argv[1], sys.argv[2]
    async with aio.Peer(
        name=f"proc-{role}", private_key=os.environ["SK_KEY"], authorized_keys=os.environ["SK_TRUST"]
    ) as peer:
        if role == "server":
            print(await peer.bind(ep), flush=True)
            await serve(peer)
            print("server ok", flush=True)
        else:
            await peer.connect(ep)
            await client(peer, sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
