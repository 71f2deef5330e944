"""Peer constructor keywords: one per option, durations in seconds."""

import math
from typing import Any

import pytest
import streamkit
from streamkit import aio

from conftest import Pair

DURATIONS = {
    "reconnect_interval": streamkit.OPT_RECONNECT_INTERVAL,
    "reconnect_interval_max": streamkit.OPT_RECONNECT_INTERVAL_MAX,
    "connect_timeout": streamkit.OPT_CONNECT_TIMEOUT,
    "keepalive_interval": streamkit.OPT_KEEPALIVE_INTERVAL,
    "handshake_timeout": streamkit.OPT_HANDSHAKE_TIMEOUT,
}


@pytest.mark.parametrize("cls", [streamkit.Peer, aio.Peer])
@pytest.mark.parametrize("kw", sorted(DURATIONS))
def test_durations_are_seconds_float_or_int(cls: Any, kw: str) -> None:
    for value, ms in [(1.5, 1500), (2, 2000), (0.0015, 2)]:
        p = cls(**{kw: value})
        try:
            assert p.get_option(DURATIONS[kw]) == ms, (kw, value)
        finally:
            if cls is streamkit.Peer:
                p.shutdown()


def test_every_option_has_a_keyword() -> None:
    names = [n for n in dir(streamkit) if n.startswith("OPT_")]
    assert len(names) == 16
    for n in names:
        kw = n[len("OPT_"):].lower()
        # a valid value for each: strings for the string options, else 1 (s or count)
        value: Any = {"name": "x", "private_key": streamkit.generate_key(),
                 "authorized_keys": "", "known_hosts": "", "channel_window": 4096}.get(kw, 1)
        with streamkit.Peer(**{kw: value}) as p:
            got = p.get_option(getattr(streamkit, n))
            if kw in DURATIONS:
                assert got == 1000, kw
            elif isinstance(value, int):
                assert got == value, kw


def test_bad_durations_are_refused_in_the_users_words() -> None:
    with pytest.raises(streamkit.InvalidArgument, match="'connect_timeout' must be 0 to 86400 seconds"):
        streamkit.Peer(connect_timeout=-5)
    with pytest.raises(streamkit.InvalidArgument, match="keepalive_interval"):
        streamkit.Peer(keepalive_interval=math.nan)
    with pytest.raises(streamkit.InvalidArgument, match="handshake_timeout"):
        streamkit.Peer(handshake_timeout=math.inf)
    with pytest.raises(TypeError, match="connect_timeout"):
        streamkit.Peer(connect_timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keepalive_interval"):
        streamkit.Peer(keepalive_interval=True)
    # -1 keeps its meaning for reconnect_interval only: never retry
    with streamkit.Peer(reconnect_interval=-1) as p:
        assert p.get_option(streamkit.OPT_RECONNECT_INTERVAL) == -1
    with pytest.raises(streamkit.InvalidArgument, match="never retry"):
        streamkit.Peer(reconnect_interval=-2)
    # the keywords after max_frame_size are keyword-only
    with pytest.raises(TypeError):
        streamkit.Peer(None, None, None, None, None, None, None, None, 5)  # type: ignore[call-arg]


def test_headers_given_as_a_dict_read_back_as_a_dict(pair: Pair) -> None:
    a, b = pair.a, pair.b
    with b.open("alice", "svc", {"user": "me", "x": "a=b"}) as ch, a.accept(timeout=10) as srv:
        assert sorted(srv.meta.headers) == ["user=me", "x=a=b"]
        assert srv.meta.headers_dict == {"user": "me", "x": "a=b"}
        srv.write_trailers(["status=0", "flag"])
        srv.close_write()
        assert ch.read_frame(timeout=10) is None
        assert ch.meta.trailers_dict == {"status": "0", "flag": ""}
