//go:build cgo

package streamkit

import (
	"io"
	"net"
)

// The original Go Streamkit interfaces, with their original signatures.
// These compile-time assertions check that code written against the
// original API compiles unchanged against this package.

type originalPeer interface {
	SetOption(option int, value interface{}) error
	GetOption(option int) interface{}
	Connect(endpoint string) error
	Disconnect(endpoint string) error
	Bind(endpoint string) error
	Unbind(endpoint string) error
	Peers() []string
	Drop(peer string) error
	NextPeer() string
	Accept() (ChannelMeta, Channel)
	Open(peer, service string, headers []string) (Channel, error)
	Shutdown() error
}

type originalChannelMeta interface {
	Service() string
	Headers() []string
	Trailers() []string // available once closed
	LocalPeer() string
	RemotePeer() string
}

type originalChannel interface {
	Write(data []byte) (int, error)
	Read(data []byte) (int, error)
	WriteFrame(frame []byte) error
	ReadFrame() ([]byte, error)
	WriteError(frame []byte) error
	ReadError() ([]byte, error)
	CloseWrite() error
	WriteTrailers(trailers []string) error
	Close() error
	Open(service string, headers []string) (Channel, error)
	Accept() (ChannelMeta, Channel)
	Join(rwc io.ReadWriteCloser)
	Meta() ChannelMeta
}

var (
	_ originalPeer = (*Peer)(nil)

	// The package's interfaces are exactly the original ones, both ways.
	_ originalChannel     = Channel(nil)
	_ Channel             = originalChannel(nil)
	_ originalChannelMeta = ChannelMeta(nil)
	_ ChannelMeta         = originalChannelMeta(nil)

	// Returned channels are Channel, ChannelMeta and io.ReadWriteCloser.
	_ Channel            = (*Chan)(nil)
	_ ChannelMeta        = (*Chan)(nil)
	_ io.ReadWriteCloser = (*Chan)(nil)

	// Join takes a net.Conn.
	_ = func(c Channel, conn net.Conn) { c.Join(conn) }

	// The original option constants, untyped ints.
	_ = [5]int{OptPrivateKey, OptAuthorizedKeys, OptName, OptReconnectInterval, OptReconnectIntervalMax}

	// Values of the original methods' types.
	_ func() (ChannelMeta, Channel)                   = (*Peer)(nil).Accept
	_ func(string, string, []string) (Channel, error) = (*Peer)(nil).Open
	_ func(int, interface{}) error                    = (*Peer)(nil).SetOption
	_ func(int) interface{}                           = (*Peer)(nil).GetOption
	_ func() string                                   = (*Peer)(nil).NextPeer
	_ func() []string                                 = (*Peer)(nil).Peers
	_ func() error                                    = (*Peer)(nil).Shutdown
)
