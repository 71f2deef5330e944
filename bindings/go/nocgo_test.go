//go:build !cgo

package streamkit

import (
	"errors"
	"testing"
)

func TestNoCgo(t *testing.T) {
	var _ interface {
		Accept() (ChannelMeta, Channel)
		Open(peer, service string, headers []string) (Channel, error)
	} = NewPeer()
	if err := NewPeer().Bind("tcp://127.0.0.1:0"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Bind without cgo: %v", err)
	}
	if _, err := GenerateKey(); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("GenerateKey without cgo: %v", err)
	}
}
