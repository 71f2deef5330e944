"""streamkit.aio against the blocking API, each in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Identity, endpoint

HELPER_SYNC = str(Path(__file__).with_name("peer_proc.py"))
HELPER_AIO = str(Path(__file__).with_name("aio_peer_proc.py"))


def env(key: str, trust: str) -> dict[str, str]:
    return {**os.environ, "SK_KEY": key, "SK_TRUST": trust}


def run_pair(ids: tuple[Identity, Identity], server: str, client: str, ep: str) -> None:
    ia, ib = ids
    with subprocess.Popen(
        [sys.executable, server, "server", ep], stdout=subprocess.PIPE, text=True, env=env(ia.private_key, ib.public_key)
    ) as srv:
        try:
            assert srv.stdout is not None
            bound = srv.stdout.readline().strip()
            assert bound.startswith(ep.split("://")[0] + "://"), bound
            cli = subprocess.run(
                [sys.executable, client, "client", bound, "proc-server"],
                stdout=subprocess.PIPE,
                text=True,
                env=env(ib.private_key, ia.public_key),
                timeout=60,
            )
            assert cli.returncode == 0, cli.stdout
            assert cli.stdout.startswith("client ok pid="), cli.stdout
            assert cli.stdout.strip() == f"client ok pid={srv.pid}"
            assert srv.stdout.readline().strip() == "server ok"
            assert srv.wait(30) == 0
        finally:
            if srv.poll() is None:
                srv.kill()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_sync_server_aio_client(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    run_pair(ids, HELPER_SYNC, HELPER_AIO, endpoint(transport, short_dir))


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_aio_server_sync_client(ids: tuple[Identity, Identity], transport: str, short_dir: str) -> None:
    run_pair(ids, HELPER_AIO, HELPER_SYNC, endpoint(transport, short_dir))


def test_aio_server_aio_client(ids: tuple[Identity, Identity], short_dir: str) -> None:
    run_pair(ids, HELPER_AIO, HELPER_AIO, endpoint("tcp", short_dir))


def test_helper_fails_visibly(ids: tuple[Identity, Identity]) -> None:
    """The async helper exits non-zero when the protocol check fails (so the tests above can fail)."""
    ia, ib = ids
    cli = subprocess.run(
        [sys.executable, HELPER_AIO, "client", "tcp://127.0.0.1:1", "nobody"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env(ib.private_key, ia.public_key), "SK_NOTE": "connect to a closed port"},
        timeout=60,
    )
    assert cli.returncode != 0
    assert "client ok" not in cli.stdout
