//go:build !cgo

package streamkit

import (
	"context"
	"net"
	"time"
)

// This file is used when cgo is disabled (CGO_ENABLED=0). streamkit wraps a
// C library and cannot work without cgo: the package still compiles, so
// that programs depending on it build, but every call fails with ErrNoCgo
// (Accept returns (nil, nil), Peers returns an empty list).

// Peer is a streamkit peer. Built without cgo, every method fails with
// ErrNoCgo.
type Peer struct{}

// NewPeer returns a peer whose every method fails with ErrNoCgo.
func NewPeer() *Peer { return &Peer{} }

func (p *Peer) SetOption(option int, value interface{}) error { return ErrNoCgo }
func (p *Peer) GetOption(option int) interface{}              { return nil }
func (p *Peer) Connect(endpoint string) error                 { return ErrNoCgo }
func (p *Peer) Disconnect(endpoint string) error              { return ErrNoCgo }
func (p *Peer) ConnectConn(conn net.Conn) error               { return ErrNoCgo }
func (p *Peer) ServeConn(conn net.Conn) error                 { return ErrNoCgo }
func (p *Peer) Bind(endpoint string) error                    { return ErrNoCgo }
func (p *Peer) BindAddr(endpoint string) (string, error)      { return "", ErrNoCgo }
func (p *Peer) Unbind(endpoint string) error                  { return ErrNoCgo }
func (p *Peer) Peers() []string                               { return []string{} }
func (p *Peer) Stats() []ConnStats                            { return []ConnStats{} }
func (p *Peer) Drop(peer string) error                        { return ErrNoCgo }
func (p *Peer) NextPeer() string                              { return "" }
func (p *Peer) PublicKey() (string, error)                    { return "", ErrNoCgo }
func (p *Peer) Accept() (ChannelMeta, Channel)                { return nil, nil }

// Events returns a closed channel.
func (p *Peer) Events() <-chan Event {
	ch := make(chan Event)
	close(ch)
	return ch
}
func (p *Peer) AcceptTimeout(d time.Duration) (ChannelMeta, Channel, error) {
	return nil, nil, ErrNoCgo
}
func (p *Peer) AcceptContext(ctx context.Context) (ChannelMeta, Channel, error) {
	return nil, nil, ErrNoCgo
}
func (p *Peer) Open(peer, service string, headers []string) (Channel, error) { return nil, ErrNoCgo }
func (p *Peer) Shutdown() error                                              { return ErrNoCgo }

// GenerateKey fails with ErrNoCgo.
func GenerateKey() (string, error) { return "", ErrNoCgo }

// Version returns "" without cgo.
func Version() string { return "" }

// LiveHandles returns 0 without cgo.
func LiveHandles() int { return 0 }
