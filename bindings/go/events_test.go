//go:build cgo

package streamkit

import (
	"strings"
	"testing"
	"time"
)

// nextOf receives events until one of kind; 30 s is a liveness bound only.
func nextOf(t *testing.T, ch <-chan Event, kind string) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("events closed while waiting for %s", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within 30 s", kind)
		}
	}
}

func TestEventsConnectedDisconnectedReconnecting(t *testing.T) {
	server, client, ep := pair(t, transports[0])
	se, ce := server.Events(), client.Events()
	if server.Events() != se {
		t.Fatal("Events must return the same channel")
	}
	e := nextOf(t, se, EventConnected)
	if e.Peer != name(client) || !strings.HasPrefix(e.Fingerprint, "SHA256:") || e.Endpoint == "" {
		t.Fatalf("server connected: %+v", e)
	}
	e = nextOf(t, ce, EventConnected)
	if e.Peer != name(server) || e.Endpoint != ep {
		t.Fatalf("client connected: %+v", e)
	}
	if err := client.SetOption(OptReconnectInterval, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := server.Drop(name(client)); err != nil {
		t.Fatal(err)
	}
	e = nextOf(t, ce, EventDisconnected)
	if !strings.Contains(e.Reason, "the remote disconnected: dropped") {
		t.Fatalf("disconnected: %+v", e)
	}
	if err := server.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// Closed at Shutdown.
	for range se {
	}
	e = nextOf(t, ce, EventReconnecting)
	if e.Endpoint != ep || !strings.Contains(e.Reason, "attempt") {
		t.Fatalf("reconnecting: %+v", e)
	}
	if err := client.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ce; ok {
		// at most the buffered events remain; the channel must end
		for range ce {
		}
	}
	if _, ok := <-client.Events(); ok {
		t.Fatal("Events after Shutdown must be closed")
	}
}

func TestEventsAuthFailedAndRefused(t *testing.T) {
	server := newTestPeer(t, "srv")
	other := newTestPeer(t, "stranger")
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetOption(OptPrivateKey, k); err != nil {
		t.Fatal(err)
	}
	spk, _ := server.PublicKey()
	if err := other.SetOption(OptAuthorizedKeys, spk); err != nil {
		t.Fatal(err)
	}
	ep := bind(t, server, "tcp://127.0.0.1:0")
	se := server.Events()
	if err := other.Connect(ep); err == nil {
		t.Fatal("an untrusted key connected")
	}
	e := nextOf(t, se, EventAuthFailed)
	if e.Peer != "stranger" || !strings.HasPrefix(e.Fingerprint, "SHA256:") {
		t.Fatalf("auth_failed: %+v", e)
	}
	e = nextOf(t, other.Events(), EventAuthFailed)
	if !strings.Contains(e.Reason, "refused our key") {
		t.Fatalf("client auth_failed: %+v", e)
	}
	// refused: a backlog of 1 that nobody accepts from
	client := newTestPeer(t, "cli")
	connect(t, client, ep)
	if err := server.SetOption(OptAcceptBacklog, 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		ch, err := client.Open("srv", "x", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
	}
	e = nextOf(t, se, EventRefused)
	if e.Peer != "cli" || !strings.Contains(e.Reason, "ACCEPT_BACKLOG") {
		t.Fatalf("refused: %+v", e)
	}
}

// Nobody reads: Shutdown still ends the goroutine and closes the channel.
func TestEventsUnreadDoNotLeak(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	ch := server.Events()
	_ = client
	if err := server.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	if n > 16 {
		t.Fatalf("%d events after the pump was stopped", n)
	}
}
