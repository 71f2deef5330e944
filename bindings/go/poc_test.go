//go:build cgo

package streamkit

// A port of the original Go Streamkit proof of concept's tests
// (poc2/duplex/peer_test.go): the same scenarios, on tcp and unix.
// Differences from the original, all from the specified semantics:
// tcp endpoints use port 0 and the bound address, every peer gets the test
// key (the original relied on ~/.ssh/id_rsa), and trailers are checked on
// the receiving side after the sender closed for writing.

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConnectPeers(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		server := newTestPeer(t, "")
		client := newTestPeer(t, "")
		ep := bind(t, server, tr.ep(t, 1))
		if len(server.Peers()) != 0 {
			t.Fatal("unexpected server peers:", server.Peers())
		}
		connect(t, client, ep)
		if ps := client.Peers(); len(ps) != 1 || ps[0] != name(server) {
			t.Fatal("unexpected client peers:", ps)
		}
		if ps := server.Peers(); len(ps) != 1 || ps[0] != name(client) {
			t.Fatal("unexpected server peers:", ps)
		}
		if err := client.Disconnect(ep); err != nil {
			t.Fatal(err)
		}
		// The server may not notice at once, so drop explicitly (as the
		// original did); it may already be gone.
		_ = server.Drop(name(client))
		if len(client.Peers()) != 0 || len(server.Peers()) != 0 {
			t.Fatal("peers not disconnected:", "client:", client.Peers(), "server:", server.Peers())
		}
	})
}

func TestConnect3Peers(t *testing.T) {
	// Two clients and a server; the server connects to the second client.
	forEachTransport(t, func(t *testing.T, tr transport) {
		server := newTestPeer(t, "")
		client1 := newTestPeer(t, "")
		client2 := newTestPeer(t, "")
		ep1 := bind(t, server, tr.ep(t, 1))
		ep2 := bind(t, client2, tr.ep(t, 2))
		connect(t, client1, ep1)
		connect(t, server, ep2)
		if ps := client1.Peers(); len(ps) != 1 || ps[0] != name(server) {
			t.Fatal("unexpected client1 peers:", ps)
		}
		if ps := client2.Peers(); len(ps) != 1 || ps[0] != name(server) {
			t.Fatal("unexpected client2 peers:", ps)
		}
		ps := server.Peers()
		if len(ps) != 2 || !strings.Contains(strings.Join(ps, " "), name(client1)) ||
			!strings.Contains(strings.Join(ps, " "), name(client2)) {
			t.Fatal("unexpected server peers:", ps)
		}
		if !(ps[0] < ps[1]) {
			t.Fatal("peers not sorted:", ps)
		}
		_ = server.Drop(name(client1))
		_ = server.Drop(name(client2))
		_ = client1.Drop(name(server))
		_ = client2.Drop(name(server))
		if len(client1.Peers()) != 0 || len(client2.Peers()) != 0 || len(server.Peers()) != 0 {
			t.Fatal("peers not disconnected:", client1.Peers(), client2.Peers(), server.Peers())
		}
	})
}

func TestOpenChannels(t *testing.T) {
	// Two peers; open a channel in both directions.
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, _ := pair(t, tr)
		for i := 0; i < 2; i++ {
			ch, err := server.Open(name(client), "test-service", []string{"foo=bar"})
			if err != nil {
				t.Fatal(err)
			}
			meta, ach := acceptT(t, client)
			if meta.Service() != "test-service" {
				t.Fatal("unexpected service on accepted channel:", meta.Service())
			}
			if h := meta.Headers(); len(h) != 1 || h[0] != "foo=bar" {
				t.Fatal("unexpected headers on accepted channel:", h)
			}
			if meta.LocalPeer() != name(client) || meta.RemotePeer() != name(server) {
				t.Fatal("unexpected peer names:", meta.LocalPeer(), meta.RemotePeer())
			}
			if ch.Meta().Service() != "test-service" || ch.Meta().RemotePeer() != name(client) {
				t.Fatal("unexpected meta on opened channel:", ch.Meta().Service(), ch.Meta().RemotePeer())
			}
			ch.Close()
			ach.Close()
			client, server = server, client // switch it up!
		}
	})
}

func TestChannelTrailers(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, _ := pair(t, tr)
		for i := 0; i < 2; i++ {
			chs, err := server.Open(name(client), "test-service", []string{"foo=bar"})
			if err != nil {
				t.Fatal(err)
			}
			meta, chc := acceptT(t, client)
			if meta.Service() != "test-service" || len(meta.Headers()) != 1 {
				t.Fatal("unexpected meta on accepted channel:", meta.Service(), meta.Headers())
			}
			// opener -> acceptor
			if err := chs.WriteTrailers([]string{"trailer is here"}); err != nil {
				t.Fatal("failed to write trailers on open channel:", err)
			}
			if err := chs.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if _, err := chc.ReadFrame(); err != io.EOF {
				t.Fatal("expected io.EOF, got", err)
			}
			if tr := chc.Meta().Trailers(); len(tr) != 1 || tr[0] != "trailer is here" {
				t.Fatal("unexpected trailers on accepted channel:", tr)
			}
			// acceptor -> opener
			if err := chc.WriteTrailers([]string{"client trailer", "is here"}); err != nil {
				t.Fatal("failed to write trailers on accepted channel:", err)
			}
			if err := chc.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := chs.ReadFrame(); err != io.EOF {
				t.Fatal("expected io.EOF, got", err)
			}
			if tr := chs.Meta().Trailers(); len(tr) != 2 || tr[0] != "client trailer" || tr[1] != "is here" {
				t.Fatal("unexpected trailers on open channel:", tr)
			}
			chs.Close()
			// Trailers stay readable after Close.
			if tr := chs.Meta().Trailers(); len(tr) != 2 {
				t.Fatal("trailers lost after Close:", tr)
			}
			client, server = server, client
		}
	})
}

func TestBalancedFrameChannels(t *testing.T) {
	// Two servers, one client connected to both; channels are opened
	// across both with NextPeer and frames are echoed.
	forEachTransport(t, func(t *testing.T, tr transport) {
		client := newTestPeer(t, "")
		server1 := newTestPeer(t, "")
		server2 := newTestPeer(t, "")
		connect(t, client, bind(t, server1, tr.ep(t, 1)))
		connect(t, client, bind(t, server2, tr.ep(t, 2)))
		served := make(chan string, 8)
		echoService := func(peer *Peer) {
			for {
				meta, ch := peer.Accept()
				if meta == nil {
					return // shut down
				}
				if meta.Service() != "echo" {
					t.Error("unexpected service on accepted channel:", meta.Service())
					return
				}
				frame, err := ch.ReadFrame()
				if err != nil {
					t.Error(err)
					return
				}
				if err := ch.WriteFrame(frame); err != nil {
					t.Error(err)
					return
				}
				served <- meta.LocalPeer()
				ch.Close()
			}
		}
		go echoService(server1)
		go echoService(server2)
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			ch, err := client.Open(client.NextPeer(), "echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			sent := []byte("foobar")
			if err := ch.WriteFrame(sent); err != nil {
				t.Fatal(err)
			}
			rcvd, err := ch.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sent, rcvd) {
				t.Fatal("sent and received frames not matching:", sent, rcvd)
			}
			seen[<-served]++
			ch.Close()
		}
		if seen[name(server1)] != 2 || seen[name(server2)] != 2 {
			t.Fatal("requests not balanced:", seen)
		}
	})
}

func TestAttachedChannels(t *testing.T) {
	// Open a channel in both directions, then channels on those channels.
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, _ := pair(t, tr)
		for i := 0; i < 2; i++ {
			opened, err := server.Open(name(client), "outer", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, accepted := acceptT(t, client)
			for ii := 0; ii < 2; ii++ {
				inner, err := accepted.Open("inner", []string{"foo=bar", "bar=foo"})
				if err != nil {
					t.Fatal(err)
				}
				meta, innerAcc, err := opened.(*Chan).AcceptTimeout(10 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if meta.Service() != "inner" {
					t.Fatal("unexpected service on accepted channel:", meta.Service())
				}
				if len(meta.Headers()) != 2 {
					t.Fatal("unexpected headers on accepted channel:", meta.Headers())
				}
				// and data flows on the inner channel
				if err := inner.WriteFrame([]byte("in")); err != nil {
					t.Fatal(err)
				}
				if f, err := innerAcc.ReadFrame(); err != nil || string(f) != "in" {
					t.Fatal("inner frame:", f, err)
				}
				inner.Close()
				innerAcc.Close()
				accepted, opened = opened, accepted // switch on the inner level
			}
			opened.Close()
			accepted.Close()
			client, server = server, client // switch on the outer level
		}
	})
}

func TestJoin(t *testing.T) {
	// Join a channel with a net.Conn: a TCP echo server behind a channel.
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, _ := pair(t, tr)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c) // echo until EOF
			c.(*net.TCPConn).CloseWrite()
			c.Close()
		}()
		joined := make(chan struct{})
		go func() {
			defer close(joined)
			_, ch := server.Accept()
			if ch == nil {
				t.Error("accept failed")
				return
			}
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			ch.Join(conn)
		}()
		ch, err := client.Open(name(server), "tcp-echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
		go func() {
			ch.Write(payload)
			ch.CloseWrite()
		}()
		got, err := io.ReadAll(ch)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("echo mismatch: got %d bytes, want %d", len(got), len(payload))
		}
		<-joined
		ch.Close()
	})
}

// TestConnectBothSidesKnowEachOther repeats what TestConnectPeers checks
// once: when Connect returns, both sides list each other (API.md: "Connect
// returns only once both sides know each other's name"; the original
// server registered the client before greeting it).
func TestConnectBothSidesKnowEachOther(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		const n = 300
		late := 0
		for i := 0; i < n; i++ {
			func() {
				server := newTestPeer(t, "")
				client := newTestPeer(t, "")
				defer server.Shutdown()
				defer client.Shutdown()
				connect(t, client, bind(t, server, tr.ep(t, 1)))
				if len(server.Peers()) != 1 || len(client.Peers()) != 1 {
					late++
				}
			}()
		}
		if late > 0 {
			t.Errorf("%d of %d Connects returned before both sides listed each other", late, n)
		}
	})
}
