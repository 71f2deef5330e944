// Package streamkit provides secure multiplexed channels over SSH: the
// original Go Streamkit API, implemented over the streamkit C library
// (include/streamkit.h, libstreamkit) through cgo.
//
// Peers are like ZeroMQ sockets that can both bind and connect; each
// connection between two peers is an SSH connection. Channels are
// bidirectional byte streams tunnelled through those connections. A channel
// carries a service name and key=value headers when it is opened, and
// offers length-prefixed message frames on the same stream, error frames on
// the SSH extended-data stream, trailers sent before close, and child
// channels ("channels of channels").
//
//	server := streamkit.NewPeer()
//	server.SetOption(streamkit.OptPrivateKey, keyText)
//	addr, _ := server.BindAddr("tcp://127.0.0.1:0")
//
//	client := streamkit.NewPeer()
//	client.SetOption(streamkit.OptPrivateKey, keyText)
//	client.Connect(addr)
//
//	go func() {
//		meta, ch := server.Accept()
//		frame, _ := ch.ReadFrame()
//		ch.WriteFrame(frame) // echo
//		ch.Close()
//		_ = meta
//	}()
//	ch, _ := client.Open(client.NextPeer(), "echo", []string{"k=v"})
//	ch.WriteFrame([]byte("hello"))
//	reply, _ := ch.ReadFrame()
//
// # Compatibility
//
// NewPeer, the *Peer methods SetOption, GetOption, Connect, Disconnect,
// Bind, Unbind, Peers, Drop, NextPeer, Accept, Open and Shutdown, the
// Channel and ChannelMeta interfaces and the Opt* constants are exactly
// those of the original Go Streamkit, so code written against it compiles
// unchanged. Everything else (BindAddr, PublicKey, GenerateKey,
// AcceptTimeout, the context variants, the error values) is an addition.
//
// # Handles, threads and errors
//
// Each Peer and channel owns a handle in the C library. Shutdown and Close
// release them; a GC cleanup releases forgotten ones as a safety net, but
// call Close/Shutdown anyway. Every method is safe for concurrent use, and
// blocking calls (Accept, Read, ReadFrame, ...) may run on many goroutines at
// once; each blocked call occupies one OS thread. Shutdown unblocks every
// blocked call on a peer and its channels; Close unblocks those on a channel.
//
// Errors from the library are *Error values carrying the library's message;
// test them with errors.Is against ErrClosed, ErrTimeout, ErrNoPeer,
// ErrAuth, ErrProtocol, ErrInvalid, ErrIO and ErrInternal. ReadFrame and
// ReadError return io.EOF at a clean end of stream, and Read follows the
// io.Reader contract (0, io.EOF at the end).
//
// # Events, statistics and event loops
//
// (*Peer).Events delivers what happens to a peer's connections (connected,
// disconnected, reconnecting, auth_failed, refused, ...); Stats on a peer
// and on a channel report bytes, frames, round trips and stall times. There
// is no readiness descriptor (the C library's sk_channel_fd) in Go: a
// goroutine blocked in ReadFrame or Accept is Go's event loop, and
// ReadFrame reads frames ahead into Go memory, where a descriptor could not
// see them.
//
// # Frames written back to back
//
// WriteFrame buffers small frames (up to 1 KiB) that a goroutine writes
// less than 20 µs apart, and a background goroutine hands them to the
// library in batches of up to 16 KiB: one cgo call per batch instead of
// one per frame. A frame written after a pause goes out at once. The other
// write-side calls first wait for the frames buffered before them, so the
// other side sees everything in call order; a batch that fails (the channel
// closed) fails the next write-side call. Close hands buffered frames over
// first; see Chan.Close for its limits.
//
// # Linking
//
// By default the package links an installed C SDK found with pkg-config
// (package "streamkit"; streamkit-ffi/install.sh PREFIX installs one, and
// its rpath means programs need no LD_LIBRARY_PATH), so a program anywhere
// builds with `go build` and no Rust toolchain. Inside the streamkit
// repository, the build tag streamkit_checkout links the checkout's static
// target/release/libstreamkit.a instead (build it with `cargo build
// --release -p streamkit-ffi`). Without cgo every call fails with
// ErrNoCgo. See README.md.
package streamkit
