//go:build cgo

package streamkit

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// fingerprint computes what ssh-keygen -lf prints for a public key line.
func fingerprint(t *testing.T, line string) string {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("not a public key line: %q", line)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func keyOnly(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[0] + " " + f[1]
}

// Each side sees the key the other authenticated with, not its own.
func TestRemoteKeyAndFingerprint(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		peers := make([]*Peer, 2)
		pubs := make([]string, 2)
		for i, n := range []string{"id-server", "id-client"} {
			key, err := GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			p := NewPeer()
			t.Cleanup(func() { _ = p.Shutdown() })
			for _, o := range []struct {
				opt int
				v   interface{}
			}{{OptName, n}, {OptPrivateKey, key}} {
				if err := p.SetOption(o.opt, o.v); err != nil {
					t.Fatal(err)
				}
			}
			pub, err := p.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			peers[i], pubs[i] = p, pub
		}
		server, client := peers[0], peers[1]
		for i, p := range peers {
			if err := p.SetOption(OptAuthorizedKeys, pubs[1-i]); err != nil {
				t.Fatal(err)
			}
		}
		connect(t, client, bind(t, server, tr.ep(t, 7)))
		ch, err := client.Open("id-server", "who", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		meta, sch := acceptT(t, server)
		defer sch.Close()

		got := meta.(Identity)
		if keyOnly(got.RemoteKey()) != keyOnly(pubs[1]) || got.RemoteKey() != keyOnly(got.RemoteKey()) {
			t.Fatalf("server sees %q, want the client's key %q (no comment)", got.RemoteKey(), keyOnly(pubs[1]))
		}
		if got.RemoteFingerprint() != fingerprint(t, pubs[1]) {
			t.Fatalf("server sees fingerprint %q, want %q", got.RemoteFingerprint(), fingerprint(t, pubs[1]))
		}
		cc := ch.(*Chan)
		if keyOnly(cc.RemoteKey()) != keyOnly(pubs[0]) {
			t.Fatalf("client sees %q, want the server's key %q", cc.RemoteKey(), keyOnly(pubs[0]))
		}
		if cc.RemoteFingerprint() != fingerprint(t, pubs[0]) {
			t.Fatalf("client sees fingerprint %q, want %q", cc.RemoteFingerprint(), fingerprint(t, pubs[0]))
		}
	})
}
