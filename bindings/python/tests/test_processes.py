"""Two Python processes talking to each other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Identity, bind_or_skip, endpoint

import streamkit

HELPER = str(Path(__file__).with_name("peer_proc.py"))


def env(key: str, trust: str) -> dict[str, str]:
    return {**os.environ, "SK_KEY": key, "SK_TRUST": trust}


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_child_server_parent_client(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    ia, ib = ids
    with subprocess.Popen(
        [sys.executable, HELPER, "server", endpoint(transport, short_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env(ia.private_key, ib.public_key),
    ) as proc:
        try:
            assert proc.stdout is not None
            bound = proc.stdout.readline().strip()
            assert bound.startswith(transport + "://")
            with subprocess.Popen(
                [sys.executable, HELPER, "client", bound, "proc-server"],
                stdout=subprocess.PIPE,
                text=True,
                env=env(ib.private_key, ia.public_key),
            ) as cli:
                out, _ = cli.communicate(timeout=60)
                assert cli.returncode == 0
                assert out.startswith("client ok pid=")
            assert proc.stdout.readline().strip() == "server ok"
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_parent_server_child_client(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    ia, ib = ids
    with streamkit.Peer(name="proc-server", private_key=ia.private_key, authorized_keys=ib.public_key) as peer:
        bound = bind_or_skip(peer, endpoint(transport, short_dir))
        with subprocess.Popen(
            [sys.executable, HELPER, "client", bound, "proc-server"],
            stdout=subprocess.PIPE,
            text=True,
            env=env(ib.private_key, ia.public_key),
        ) as cli:
            try:
                # the same server code as the child process runs
                sys.path.insert(0, os.path.dirname(HELPER))
                import peer_proc

                peer_proc.serve(peer)
                out, _ = cli.communicate(timeout=60)
                assert cli.returncode == 0, out
                assert out.strip() == f"client ok pid={os.getpid()}"
                assert peer.peers() in (["proc-client"], [])
            finally:
                if cli.poll() is None:
                    cli.kill()
