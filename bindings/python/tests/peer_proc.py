"""Helper run as a separate process by test_processes.py (not a test module).

usage: peer_proc.py server ENDPOINT | client ENDPOINT
Keys come from the environment: SK_KEY (own private key), SK_TRUST (the other
side's public key).
"""

from __future__ import annotations

import os
import sys
import time

import streamkit


def serve(peer: streamkit.Peer) -> None:
    with peer.accept(timeout=20) as ch:
        assert ch.meta.service == "upper", ch.meta.service
        assert ch.meta.headers == ["lang=py"], ch.meta.headers
        child = ch.accept(timeout=20)
        child.write(b"child:" + child.meta.service.encode())
        child.close()
        for frame in ch:  # echo frames upper-cased until EOF
            ch.write_frame(frame.upper())
        ch.write_error(b"no more")
        ch.write_trailers(["frames=done", f"pid={os.getpid()}"])
        ch.close_write()
        # wait for the other side to read everything and close its end
        # (shutting down earlier would cut the connection under it)
        assert ch.read_frame(timeout=20) is None
        deadline = time.monotonic() + 20
        while not ch.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ch.closed


def client(peer: streamkit.Peer, server_name: str) -> None:
    with peer.open(server_name, "upper", ["lang=py"]) as ch:
        child = ch.open("kid")
        data = b""
        while True:
            chunk = child.read(timeout=20)
            if not chunk:
                break
            data += chunk
        assert data == b"child:kid", data
        for word in (b"alpha", b"beta", b"gamma"):
            ch.write_frame(word)
            assert ch.read_frame(timeout=20) == word.upper()
        ch.close_write()
        assert ch.read_error(timeout=20) == b"no more"
        assert ch.read_frame(timeout=20) is None
        assert ch.meta.trailers[0] == "frames=done", ch.meta.trailers
        print("client ok", ch.meta.trailers[1], flush=True)


def main() -> int:
    role, ep = sys.argv[1], sys.argv[2]
    with streamkit.Peer(
        name=f"proc-{role}", private_key=os.environ["SK_KEY"], authorized_keys=os.environ["SK_TRUST"]
    ) as peer:
        if role == "server":
            print(peer.bind(ep), flush=True)
            serve(peer)
            print("server ok", flush=True)
        else:
            peer.connect(ep)
            client(peer, sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
