"""streamkit: secure multiplexed channels over SSH.

Peers bind and connect like ZeroMQ sockets; behind the scenes every
connection is a mutually authenticated SSH connection. Channels are
bidirectional streams tunnelled through those connections, each opened for a
service name with ``key=value`` headers. A channel carries a byte stream,
length-prefixed message frames, error frames and trailers, and can itself open
and accept child channels.

Example::

    import streamkit

    key_a, key_b = streamkit.generate_key(), streamkit.generate_key()
    pub_a = streamkit.Peer(private_key=key_a).public_key
    pub_b = streamkit.Peer(private_key=key_b).public_key

    with streamkit.Peer(name="a", private_key=key_a, authorized_keys=pub_b) as a, \\
         streamkit.Peer(name="b", private_key=key_b, authorized_keys=pub_a) as b:
        endpoint = a.bind("tcp://127.0.0.1:0")
        b.connect(endpoint)
        with b.open("a", "echo", ["x=1"]) as ch:
            ch.write_frame(b"hello")
            with a.accept(timeout=5) as server_side:
                assert server_side.read_frame() == b"hello"

Every blocking call releases the GIL and can be interrupted with Ctrl-C.
Timeouts are in seconds (float); ``None`` waits forever. Peer options are
integers in milliseconds or bytes, as in the C API.
"""

from ._streamkit import (
    OPT_ACCEPT_BACKLOG,
    OPT_AUTHORIZED_KEYS,
    OPT_CHANNEL_WINDOW,
    OPT_CONNECT_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_KEEPALIVE_COUNT,
    OPT_KEEPALIVE_INTERVAL,
    OPT_KNOWN_HOSTS,
    OPT_MAX_CHANNELS,
    OPT_MAX_FRAME_SIZE,
    OPT_NAME,
    OPT_PRIVATE_KEY,
    OPT_RECONNECT_INTERVAL,
    OPT_RECONNECT_INTERVAL_MAX,
    OPT_WINDOW_BUDGET,
    OPT_MAX_CONNECTIONS_PER_KEY,
    AuthError,
    Channel,
    ChannelMeta,
    ChannelStats,
    ClosedError,
    ConnStats,
    Error,
    Event,
    InvalidArgument,
    NoPeerError,
    Peer,
    ProtocolError,
    TimeoutError,
    __version__,
    generate_key,
    public_key,
)

__all__ = [
    "__version__",
    "generate_key",
    "public_key",
    "Peer",
    "Channel",
    "ChannelMeta",
    "ChannelStats",
    "ConnStats",
    "Event",
    "Error",
    "ClosedError",
    "TimeoutError",
    "NoPeerError",
    "AuthError",
    "ProtocolError",
    "InvalidArgument",
    "OPT_PRIVATE_KEY",
    "OPT_AUTHORIZED_KEYS",
    "OPT_NAME",
    "OPT_RECONNECT_INTERVAL",
    "OPT_RECONNECT_INTERVAL_MAX",
    "OPT_CONNECT_TIMEOUT",
    "OPT_MAX_FRAME_SIZE",
    "OPT_KNOWN_HOSTS",
    "OPT_KEEPALIVE_INTERVAL",
    "OPT_KEEPALIVE_COUNT",
    "OPT_HANDSHAKE_TIMEOUT",
    "OPT_MAX_CHANNELS",
    "OPT_CHANNEL_WINDOW",
    "OPT_ACCEPT_BACKLOG",
    "OPT_WINDOW_BUDGET",
    "OPT_MAX_CONNECTIONS_PER_KEY",
]
