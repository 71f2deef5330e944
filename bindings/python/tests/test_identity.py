"""ChannelMeta.remote_key / remote_fingerprint: who is on the other end."""

import base64
import hashlib

import pytest
import streamkit
from streamkit import aio

from conftest import Identity, Pair
from test_aio import aio_pair, chan_pair


def fingerprint(line: str) -> str:
    """What `ssh-keygen -lf` prints for a public key line."""
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_only(line: str) -> str:
    return " ".join(line.split()[:2])


def test_each_side_sees_the_others_key(pair: Pair, ids: tuple[Identity, Identity]) -> None:
    alice, bob = ids  # pair.a is alice, pair.b is bob; their keys differ
    assert key_only(alice.public_key) != key_only(bob.public_key)
    with pair.b.open("alice", "who") as ch, pair.a.accept(timeout=10) as srv:
        assert srv.meta.remote_key == key_only(bob.public_key)
        assert srv.meta.remote_fingerprint == fingerprint(bob.public_key)
        assert ch.meta.remote_key == key_only(alice.public_key)
        assert ch.meta.remote_fingerprint == fingerprint(alice.public_key)


@pytest.mark.asyncio
async def test_aio_meta_has_the_identity_too(ids: tuple[Identity, Identity]) -> None:
    alice, bob = ids
    async with aio_pair(ids) as (a, b, _), chan_pair(a, b) as (cli, srv):
        assert isinstance(srv.meta, aio.ChannelMeta)
        assert srv.meta.remote_key == key_only(bob.public_key)
        assert srv.meta.remote_fingerprint == fingerprint(bob.public_key)
        assert cli.meta.remote_fingerprint == fingerprint(alice.public_key)
    assert streamkit.public_key(alice.private_key).split()[:2] == alice.public_key.split()[:2]
