package main

import (
	"fmt"
	"log"

	streamkit "github.com/streamkit/streamkit/bindings/go"
)

func main() {
	key, err := streamkit.GenerateKey() // or a path such as ~/.ssh/id_ed25519
	if err != nil {
		log.Fatal(err)
	}
	server := streamkit.NewPeer()
	server.SetOption(streamkit.OptName, "server")
	server.SetOption(streamkit.OptPrivateKey, key)
	endpoint, err := server.BindAddr("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer server.Shutdown()

	client := streamkit.NewPeer()
	client.SetOption(streamkit.OptPrivateKey, key) // same key: the peers trust each other
	if err := client.Connect(endpoint); err != nil {
		log.Fatal(err)
	}
	defer client.Shutdown()

	go func() {
		meta, ch := server.Accept() // (nil, nil) after Shutdown
		if ch == nil {
			return
		}
		for {
			frame, err := ch.ReadFrame()
			if err != nil {
				return
			}
			ch.WriteFrame(append([]byte(meta.Service()+": "), frame...))
		}
	}()

	ch, err := client.Open("server", "echo", []string{"user=me"})
	if err != nil {
		log.Fatal(err)
	}
	ch.WriteFrame([]byte("hello"))
	reply, err := ch.ReadFrame()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply)) // echo: hello
	ch.Close()
}
