//go:build cgo

package streamkit_test

import (
	"fmt"

	streamkit "github.com/streamkit/streamkit/bindings/go"
)

// Two peers over tcp loopback sharing one key (a peer trusts its own
// public key), an echo service, and one frame each way.
func Example() {
	key, err := streamkit.GenerateKey()
	if err != nil {
		panic(err)
	}

	server := streamkit.NewPeer()
	server.SetOption(streamkit.OptName, "server")
	server.SetOption(streamkit.OptPrivateKey, key)
	addr, err := server.BindAddr("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer server.Shutdown()

	client := streamkit.NewPeer()
	client.SetOption(streamkit.OptName, "client")
	client.SetOption(streamkit.OptPrivateKey, key)
	if err := client.Connect(addr); err != nil {
		panic(err)
	}
	defer client.Shutdown()

	go func() {
		for {
			meta, ch := server.Accept() // (nil, nil) after Shutdown
			if ch == nil {
				return
			}
			go func() {
				defer ch.Close()
				frame, err := ch.ReadFrame()
				if err != nil {
					return
				}
				ch.WriteFrame(append([]byte(meta.Service()+": "), frame...))
			}()
		}
	}()

	ch, err := client.Open("server", "echo", []string{"user=me"})
	if err != nil {
		panic(err)
	}
	defer ch.Close()
	ch.WriteFrame([]byte("hello"))
	reply, err := ch.ReadFrame()
	fmt.Println(string(reply), err, client.Peers(), server.Peers())
	// Output: echo: hello <nil> [server] [client]
}
