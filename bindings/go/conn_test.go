//go:build cgo

package streamkit

import (
	"errors"
	"net"
	"testing"
	"time"
)

// serveAsync runs ServeConn in a goroutine and returns its result channel.
func serveAsync(p *Peer, c net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.ServeConn(c) }()
	return done
}

func echoOnce(t *testing.T, from, to *Peer) {
	t.Helper()
	ch, err := from.Open(name(to), "conn-echo", []string{"k=v"})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	meta, sch := acceptT(t, to)
	defer sch.Close()
	if meta.Service() != "conn-echo" || len(meta.Headers()) != 1 || meta.Headers()[0] != "k=v" {
		t.Fatalf("meta %q %q", meta.Service(), meta.Headers())
	}
	if err := ch.WriteFrame([]byte("over a net.Conn")); err != nil {
		t.Fatal(err)
	}
	f, err := sch.ReadFrame()
	if err != nil || string(f) != "over a net.Conn" {
		t.Fatalf("got %q, %v", f, err)
	}
}

// A real socket (TCP, handed to the library directly) and net.Pipe
// (relayed through a socketpair) both carry a whole connection.
func TestConnectConnAndServeConn(t *testing.T) {
	kinds := map[string]func(t *testing.T) (net.Conn, net.Conn){
		"tcp": func(t *testing.T) (net.Conn, net.Conn) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			acc := make(chan net.Conn, 1)
			go func() {
				c, _ := l.Accept()
				acc <- c
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			return <-acc, c
		},
		"pipe": func(t *testing.T) (net.Conn, net.Conn) { return net.Pipe() },
	}
	for kind, mk := range kinds {
		t.Run(kind, func(t *testing.T) {
			server := newTestPeer(t, "server")
			client := newTestPeer(t, "client")
			sc, cc := mk(t)
			done := serveAsync(server, sc)
			if err := client.ConnectConn(cc); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if p := client.Peers(); len(p) != 1 || p[0] != "server" {
				t.Fatalf("client peers %v", p)
			}
			echoOnce(t, client, server)
			echoOnce(t, server, client)
			st := client.Stats()
			if len(st) != 1 || st[0].Endpoint != "stream" {
				t.Fatalf("stats %+v", st)
			}
			// Gone for good: no reconnect.
			if err := server.Drop("client"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the client to forget the server", func() bool { return len(client.Peers()) == 0 })
			time.Sleep(200 * time.Millisecond)
			if p := client.Peers(); len(p) != 0 {
				t.Fatalf("reconnected: %v", p)
			}
		})
	}
}

func TestConnectConnUntrusted(t *testing.T) {
	server := newTestPeer(t, "server")
	client := newTestPeer(t, "client")
	// The client has a key of its own, which the server does not trust;
	// the client trusts the server's (the shared test key).
	sk, _ := server.PublicKey()
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetOption(OptPrivateKey, other); err != nil {
		t.Fatal(err)
	}
	if err := client.SetOption(OptAuthorizedKeys, sk); err != nil {
		t.Fatal(err)
	}
	sc, cc := net.Pipe()
	done := serveAsync(server, sc)
	err = client.ConnectConn(cc)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("ConnectConn: %v, want ErrAuth", err)
	}
	if err := <-done; err == nil {
		t.Fatal("ServeConn accepted an untrusted client")
	}
	if err := client.ConnectConn(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil conn: %v", err)
	}
	// After Shutdown: a closed error, and the conn is closed.
	client.Shutdown()
	a, b := net.Pipe()
	if err := client.ConnectConn(a); !errors.Is(err, ErrClosed) {
		t.Fatalf("after shutdown: %v", err)
	}
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("the conn was not closed")
	}
}
