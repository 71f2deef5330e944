//go:build cgo

package streamkit

import (
	"strings"
	"testing"
)

// Counts are checked against the bytes actually sent, on every transport.
func TestStatsCountWhatWasSent(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, ep := pair(t, tr)
		ch, err := client.Open(name(server), "count", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		_, sch := acceptT(t, server)
		defer sch.Close()
		sizes := []int{0, 1, 100, 5000, 70000}
		want := uint64(0)
		for _, n := range sizes {
			if err := ch.WriteFrame(make([]byte, n)); err != nil {
				t.Fatal(err)
			}
			want += 4 + uint64(n)
		}
		for _, n := range sizes {
			f, err := sch.ReadFrame()
			if err != nil || len(f) != n {
				t.Fatalf("frame of %d: got %d bytes, %v", n, len(f), err)
			}
		}
		cs := ch.(*Chan).Stats()
		if cs.BytesSent != want || cs.FramesSent != uint64(len(sizes)) || cs.BytesReceived != 0 {
			t.Fatalf("sender stats %+v, want %d bytes in %d frames", cs, want, len(sizes))
		}
		ss := sch.(*Chan).Stats()
		if ss.BytesReceived != want || ss.FramesReceived != uint64(len(sizes)) || ss.RecvBuffered != 0 {
			t.Fatalf("receiver stats %+v, want %d bytes in %d frames", ss, want, len(sizes))
		}
		if ss.RecvWindow == 0 || cs.SendCredit == 0 {
			t.Fatalf("window/credit missing: %+v %+v", cs, ss)
		}
		conns := client.Stats()
		if len(conns) != 1 {
			t.Fatalf("client.Stats() = %+v, want one connection", conns)
		}
		c := conns[0]
		if c.Peer != name(server) || c.Endpoint != ep || c.BytesSent < want || c.Channels != 1 {
			t.Fatalf("client conn stats %+v (endpoint %s, want >= %d bytes)", c, ep, want)
		}
		if !strings.HasPrefix(c.Fingerprint, "SHA256:") {
			t.Fatalf("fingerprint %q", c.Fingerprint)
		}
		if tr.name != "inproc" && (c.RttMs == nil || *c.RttMs <= 0) {
			t.Fatalf("no round trip measured: %+v", c)
		}
		s := server.Stats()
		if len(s) != 1 || s[0].BytesReceived < want {
			t.Fatalf("server.Stats() = %+v", s)
		}
	})
}

func TestStatsAfterShutdownAreEmpty(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	if err := client.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if s := client.Stats(); s == nil || len(s) != 0 {
		t.Fatalf("Stats() after Shutdown = %#v, want empty", s)
	}
	_ = server
}
