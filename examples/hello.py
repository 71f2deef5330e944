import threading
import streamkit

key = streamkit.generate_key()  # or a path such as ~/.ssh/id_ed25519
with streamkit.Peer(name="server", private_key=key) as server, \
     streamkit.Peer(private_key=key) as client:  # same key: the peers trust each other
    endpoint = server.bind("tcp://127.0.0.1:0")
    client.connect(endpoint)

    def serve() -> None:
        with server.accept(timeout=5) as ch:
            for frame in ch:  # frames until end of stream
                ch.write_frame(ch.meta.service.encode() + b": " + frame)

    threading.Thread(target=serve, daemon=True).start()
    with client.open("server", "echo", headers=["user=me"]) as ch:
        ch.write_frame(b"hello")
        print(ch.read_frame(timeout=5))  # b'echo: hello'
