//go:build cgo

package streamkit

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// testKey is one identity shared by the test peers: a peer trusts its own
// public key, so peers with the same key trust each other.
var testKey string

func TestMain(m *testing.M) {
	k, err := GenerateKey()
	if err != nil {
		fmt.Fprintln(os.Stderr, "GenerateKey:", err)
		os.Exit(1)
	}
	testKey = k
	os.Exit(m.Run())
}

// transport builds endpoints for one transport.
type transport struct {
	name string
	// ep returns a bindable endpoint; n distinguishes endpoints in a test.
	ep func(t testing.TB, n int) string
}

var unixSeq atomic.Int64

func unixEndpoint(t testing.TB, n int) string {
	// Short paths: sun_path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "skgo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return "unix://" + filepath.Join(dir, fmt.Sprintf("s%d-%d", unixSeq.Add(1), n))
}

var transports = []transport{
	{"tcp", func(t testing.TB, n int) string { return "tcp://127.0.0.1:0" }},
	{"unix", unixEndpoint},
}

// forEachTransport runs f as a subtest per transport.
func forEachTransport(t *testing.T, f func(t *testing.T, tr transport)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr) })
	}
}

// newTestPeer returns a peer with the shared test key, shut down when the
// test ends (unless the test already did).
func newTestPeer(t testing.TB, name string) *Peer {
	t.Helper()
	p := NewPeer()
	if err := p.SetOption(OptPrivateKey, testKey); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		if err := p.SetOption(OptName, name); err != nil {
			t.Fatal(err)
		}
	}
	// No authorized_keys is needed: a peer trusts its own public key.
	if err := p.SetOption(OptConnectTimeout, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

func bind(t testing.TB, p *Peer, ep string) string {
	t.Helper()
	bound, err := p.BindAddr(ep)
	if err != nil {
		t.Fatalf("bind %s: %v", ep, err)
	}
	return bound
}

func connect(t testing.TB, p *Peer, ep string) {
	t.Helper()
	if err := p.Connect(ep); err != nil {
		t.Fatalf("connect %s: %v", ep, err)
	}
}

func name(p *Peer) string { return p.GetOption(OptName).(string) }

// pair returns a bound server and a client connected to it.
func pair(t testing.TB, tr transport) (server, client *Peer, endpoint string) {
	t.Helper()
	server = newTestPeer(t, "")
	client = newTestPeer(t, "")
	endpoint = bind(t, server, tr.ep(t, 1))
	connect(t, client, endpoint)
	// API.md: Connect returns once both sides know each other. That is
	// checked strictly by TestConnectPeers, TestConnect3Peers and
	// TestConnectBothSidesKnowEachOther; here, wait for the server side so
	// that the feature tests built on pair() test their own feature.
	waitFor(t, "the server to list the client", func() bool { return len(server.Peers()) == 1 })
	return server, client, endpoint
}

// waitFor polls cond; the 60 s bound is liveness only (a real hang).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// acceptT accepts with a timeout so a broken test fails instead of hanging.
func acceptT(t testing.TB, p *Peer) (ChannelMeta, Channel) {
	t.Helper()
	meta, ch, err := p.AcceptTimeout(10 * time.Second)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return meta, ch
}
