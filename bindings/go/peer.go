//go:build cgo

package streamkit

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Peer is a streamkit peer: it binds and connects endpoints
// (tcp://HOST:PORT, unix:///abs/path, inproc://NAME), opens channels to
// connected peers and accepts channels they open. Create it with NewPeer
// and release it with Shutdown. All methods are safe for concurrent use.
type Peer struct {
	h       *handle
	initErr error

	mu       sync.Mutex
	snapshot map[int]interface{} // option values at Shutdown, for GetOption afterwards
	ev       *evPump             // the Events goroutine, once started
}

// NewPeer returns a new peer with default options: a random UUID name, the
// identity key ~/.ssh/id_ed25519 or ~/.ssh/id_rsa (else a fresh in-memory
// ed25519 key) and the trusted keys of ~/.ssh/authorized_keys. Set
// OptPrivateKey and OptAuthorizedKeys before Bind or Connect to choose
// others.
func NewPeer() *Peer {
	var h C.uintptr_t
	var msg *C.char
	r := C.skgo_peer_new(&h, &msg)
	p := &Peer{}
	if err := cError(r, msg); err != nil {
		// The original API has no error here; every later call reports it.
		p.initErr = err
		p.h = newClosedHandle()
		return p
	}
	p.h = newHandle(uintptr(h), func(h uintptr) { C.skgo_peer_free(C.uintptr_t(h)) })
	// Safety net for a peer that is never shut down: sk_peer_free shuts it
	// down (bounded at about 5 s) and releases the handle.
	runtime.AddCleanup(p, func(x *handle) {
		if _, ok := x.beginClose(); ok {
			x.release() // frees: nothing else can be in flight
		}
	}, p.h)
	return p
}

func (p *Peer) closedErr() error {
	if p.initErr != nil {
		return p.initErr
	}
	return newError(CodeClosed, "peer is shut down")
}

// call runs fn with the C handle, keeping the peer alive across the call.
func (p *Peer) call(fn func(h C.uintptr_t) error) error {
	h, ok := p.h.acquire()
	if !ok {
		return p.closedErr()
	}
	defer p.h.release()
	err := fn(C.uintptr_t(h))
	runtime.KeepAlive(p)
	return err
}

// SetOption sets one of the Opt* options. String options take a string;
// integer options take any Go integer type, and those counted in
// milliseconds also take a time.Duration. A value of the wrong type is an
// ErrInvalid error naming the option and the expected type.
func (p *Peer) SetOption(option int, value interface{}) error {
	s, n, isString, err := optionValue(option, value)
	if err != nil {
		return err
	}
	return p.call(func(h C.uintptr_t) error {
		var msg *C.char
		var r C.int
		if isString {
			cs := C.CString(s)
			defer C.free(unsafe.Pointer(cs))
			r = C.skgo_peer_set_option_str(h, C.int(option), cs, &msg)
		} else {
			r = C.skgo_peer_set_option_int(h, C.int(option), C.int64_t(n), &msg)
		}
		return cError(r, msg)
	})
}

func (p *Peer) getOption(h C.uintptr_t, option int) interface{} {
	info, ok := lookupOption(option)
	if !ok {
		return nil
	}
	var msg *C.char
	if info.isString {
		var out *C.char
		r := C.skgo_peer_get_option_str(h, C.int(option), &out, &msg)
		if cError(r, msg) != nil {
			return nil
		}
		return takeString(out)
	}
	var out C.int64_t
	r := C.skgo_peer_get_option_int(h, C.int(option), &out, &msg)
	if cError(r, msg) != nil {
		return nil
	}
	return int(out)
}

// GetOption returns an option's current value: a string for string
// options, an int for integer options, nil for an unknown option. After
// Shutdown it returns the values the peer had when it was shut down.
func (p *Peer) GetOption(option int) interface{} {
	var v interface{}
	err := p.call(func(h C.uintptr_t) error {
		v = p.getOption(h, option)
		return nil
	})
	if err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.snapshot[option]
	}
	return v
}

// Bind listens on endpoint. Use BindAddr to learn the real port of
// tcp://HOST:0.
func (p *Peer) Bind(endpoint string) error {
	_, err := p.BindAddr(endpoint)
	return err
}

// BindAddr listens on endpoint and returns the endpoint actually bound
// (with the real port for tcp://HOST:0).
func (p *Peer) BindAddr(endpoint string) (string, error) {
	var bound string
	err := p.call(func(h C.uintptr_t) error {
		cep := C.CString(endpoint)
		defer C.free(unsafe.Pointer(cep))
		var out, msg *C.char
		r := C.skgo_peer_bind(h, cep, &out, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		bound = takeString(out)
		return nil
	})
	return bound, err
}

func (p *Peer) endpointCall(endpoint string, fn func(h C.uintptr_t, ep *C.char, msg **C.char) C.int) error {
	return p.call(func(h C.uintptr_t) error {
		cep := C.CString(endpoint)
		defer C.free(unsafe.Pointer(cep))
		var msg *C.char
		r := fn(h, cep, &msg)
		return cError(r, msg)
	})
}

// Unbind stops listening on an endpoint given to Bind.
func (p *Peer) Unbind(endpoint string) error {
	return p.endpointCall(endpoint, func(h C.uintptr_t, ep *C.char, msg **C.char) C.int {
		return C.skgo_peer_unbind(h, ep, msg)
	})
}

// Connect connects to a bound peer. It returns once both sides know each
// other's name, retrying (OptReconnectInterval) until OptConnectTimeout.
func (p *Peer) Connect(endpoint string) error {
	return p.endpointCall(endpoint, func(h C.uintptr_t, ep *C.char, msg **C.char) C.int {
		return C.skgo_peer_connect(h, ep, msg)
	})
}

// Disconnect closes the connection made by Connect(endpoint).
func (p *Peer) Disconnect(endpoint string) error {
	return p.endpointCall(endpoint, func(h C.uintptr_t, ep *C.char, msg **C.char) C.int {
		return C.skgo_peer_disconnect(h, ep, msg)
	})
}

// Peers returns the names of the connected peers, sorted. It is empty (not
// nil) when there are none or after Shutdown.
func (p *Peer) Peers() []string {
	peers := []string{}
	_ = p.call(func(h C.uintptr_t) error {
		var l C.sk_strlist
		var msg *C.char
		r := C.skgo_peer_peers(h, &l, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		peers = takeStrlist(&l)
		return nil
	})
	return peers
}

// Drop disconnects the named peer, whichever side connected.
func (p *Peer) Drop(peer string) error {
	return p.endpointCall(peer, func(h C.uintptr_t, name *C.char, msg **C.char) C.int {
		return C.skgo_peer_drop(h, name, msg)
	})
}

// NextPeer returns the next connected peer in round-robin order, or "" if
// none is connected.
func (p *Peer) NextPeer() string {
	var name string
	_ = p.call(func(h C.uintptr_t) error {
		var out, msg *C.char
		r := C.skgo_peer_next_peer(h, &out, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		name = takeString(out)
		return nil
	})
	return name
}

// PublicKey returns the peer's public key as an OpenSSH one-line string
// ("ssh-ed25519 AAAA..."), for the other side's OptAuthorizedKeys.
func (p *Peer) PublicKey() (string, error) {
	var key string
	err := p.call(func(h C.uintptr_t) error {
		var out, msg *C.char
		r := C.skgo_peer_public_key(h, &out, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		key = takeString(out)
		return nil
	})
	return key, err
}

func (p *Peer) accept(timeout time.Duration) (*Chan, error) {
	var ch *Chan
	err := p.call(func(h C.uintptr_t) error {
		var out C.uintptr_t
		var msg *C.char
		r := C.skgo_peer_accept(h, timeoutMs(timeout), &out, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		ch = newChan(uintptr(out))
		return nil
	})
	return ch, err
}

// Accept waits for a channel opened by a connected peer. It returns
// (nil, nil) once the peer is shut down (or on any other failure; use
// AcceptTimeout or AcceptContext to see the error).
func (p *Peer) Accept() (ChannelMeta, Channel) {
	ch, err := p.accept(-1)
	if err != nil || ch == nil {
		return nil, nil
	}
	return ch, ch
}

// AcceptTimeout is Accept with a time limit: it fails with ErrTimeout if
// no channel arrives within d (d < 0 waits forever), and with ErrClosed
// after Shutdown.
func (p *Peer) AcceptTimeout(d time.Duration) (ChannelMeta, Channel, error) {
	ch, err := p.accept(d)
	if err != nil {
		return nil, nil, err
	}
	return ch, ch, nil
}

// AcceptContext is Accept that also returns when ctx is done (with
// ctx.Err()).
func (p *Peer) AcceptContext(ctx context.Context) (ChannelMeta, Channel, error) {
	ch, err := pollContext(ctx, p.accept)
	if err != nil {
		return nil, nil, err
	}
	return ch, ch, nil
}

// Open opens a channel to the named connected peer, with a service name
// and key=value headers.
func (p *Peer) Open(peer, service string, headers []string) (Channel, error) {
	var ch *Chan
	err := p.call(func(h C.uintptr_t) error {
		cpeer := C.CString(peer)
		defer C.free(unsafe.Pointer(cpeer))
		csvc := C.CString(service)
		defer C.free(unsafe.Pointer(csvc))
		hs := newCStrings(headers)
		defer hs.free()
		var out C.uintptr_t
		var msg *C.char
		r := C.skgo_peer_open(h, cpeer, csvc, hs.arr, C.size_t(hs.n), &out, &msg)
		if err := cError(r, msg); err != nil {
			return err
		}
		ch = newChan(uintptr(out))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// Shutdown unbinds, disconnects, unblocks every blocked call on the peer
// and its channels (they fail with ErrClosed; Accept returns (nil, nil))
// and releases the peer. A second Shutdown returns an ErrClosed error.
func (p *Peer) Shutdown() error {
	h, ok := p.h.beginClose()
	if !ok {
		if p.initErr != nil {
			return p.initErr
		}
		return newError(CodeClosed, "peer is already shut down")
	}
	defer p.h.release()
	snap := make(map[int]interface{}, len(optionTable))
	for opt := range optionTable {
		if opt == OptPrivateKey {
			continue // never keep key material around
		}
		if v := p.getOption(C.uintptr_t(h), opt); v != nil {
			snap[opt] = v
		}
	}
	p.mu.Lock()
	p.snapshot = snap
	p.mu.Unlock()
	var msg *C.char
	r := C.skgo_peer_shutdown(C.uintptr_t(h), &msg)
	p.stopEvents()
	runtime.KeepAlive(p)
	return cError(r, msg)
}

// pollSlice bounds each blocking C call made by the context variants, so
// that cancellation is noticed within about this long.
const pollSlice = 50 * time.Millisecond

// pollContext calls fn with bounded timeouts until it succeeds, fails with
// something other than a timeout, or ctx is done.
func pollContext[T any](ctx context.Context, fn func(time.Duration) (T, error)) (T, error) {
	var zero T
	for {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		slice := pollSlice
		if dl, ok := ctx.Deadline(); ok {
			rem := time.Until(dl)
			if rem <= 0 {
				return zero, context.DeadlineExceeded
			}
			if rem < slice {
				slice = rem
			}
		}
		if ctx.Done() == nil {
			slice = -1 // never cancelled: just wait
		}
		v, err := fn(slice)
		if err == nil {
			return v, nil
		}
		if e, ok := err.(*Error); ok && e.Code == CodeTimeout {
			continue
		}
		return zero, err
	}
}
