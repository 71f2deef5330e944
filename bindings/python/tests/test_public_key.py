"""streamkit.public_key(): the public half of a private key, without a Peer."""

import os
import pathlib
import subprocess

import pytest
import streamkit


def test_public_key_of_generated_key_matches_a_peer_using_it() -> None:
    key = streamkit.generate_key()
    line = streamkit.public_key(key)
    assert line.startswith("ssh-ed25519 AAAA")
    with streamkit.Peer(private_key=key) as p:
        assert p.public_key.split()[:2] == line.split()[:2]


def test_public_key_of_a_file_matches_ssh_keygen(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
    )
    want = (tmp_path / "id_ed25519.pub").read_text().split()[:2]
    assert streamkit.public_key(path).split()[:2] == want
    assert streamkit.public_key(os.fspath(path)).split()[:2] == want


def test_public_key_of_garbage_is_invalid_argument() -> None:
    with pytest.raises(streamkit.InvalidArgument):
        streamkit.public_key("not a key")
