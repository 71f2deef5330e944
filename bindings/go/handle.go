//go:build cgo

package streamkit

import "sync/atomic"

// handle guards one C handle (sk_peer* or sk_channel*), stored as a
// uintptr. Every C call takes it with acquire and gives it back with
// release; close marks it closing so that no new call starts, and the
// handle is freed once the last in-flight call has returned. That way a
// Close or Shutdown racing with blocked calls on other goroutines never
// frees a handle under a running C call.
//
// The state is one atomic word (the closing bit and the number of calls in
// flight), so acquire and release cost one atomic operation each and take
// no lock: they are on the path of every WriteFrame and ReadFrame.
type handle struct {
	state atomic.Int64 // closingBit | calls in flight
	// closing mirrors the closing bit on its own cache line, for isClosing:
	// a reader polls it for every frame it returns from read-ahead while the
	// writer's acquire and release update state on every call, and reading
	// state there made its cache line bounce between the two goroutines'
	// cores on every frame.
	_       [56]byte
	closing atomic.Bool
	freed   atomic.Bool
	h       uintptr         // never changes
	onFree  func(h uintptr) // runs exactly once, when closing and nothing is in flight
}

const closingBit = int64(1) << 62

func newHandle(h uintptr, onFree func(uintptr)) *handle {
	return &handle{h: h, onFree: onFree}
}

// newClosedHandle is a handle that was never valid: every call fails as
// closed, and there is nothing to free.
func newClosedHandle() *handle {
	x := &handle{}
	x.state.Store(closingBit)
	x.closing.Store(true)
	x.freed.Store(true)
	return x
}

// acquire returns the C handle for one call, or false if the handle is
// closing or freed.
func (x *handle) acquire() (uintptr, bool) {
	for {
		s := x.state.Load()
		if s&closingBit != 0 {
			return 0, false
		}
		if x.state.CompareAndSwap(s, s+1) {
			return x.h, true
		}
	}
}

// release ends a call started with acquire (or beginClose).
func (x *handle) release() {
	if x.state.Add(-1) == closingBit {
		x.free()
	}
}

// beginClose marks the handle closing and returns it for the closing call
// itself (counted as in flight). It returns false if already closing.
func (x *handle) beginClose() (uintptr, bool) {
	for {
		s := x.state.Load()
		if s&closingBit != 0 {
			return 0, false
		}
		if x.state.CompareAndSwap(s, (s|closingBit)+1) {
			x.closing.Store(true)
			return x.h, true
		}
	}
}

// isClosing reports whether close has begun (a fast check; acquire is the
// authoritative one).
func (x *handle) isClosing() bool {
	return x.closing.Load()
}

// free runs onFree once. Once the closing bit is set and the count has
// reached zero, no call can start again, so this is reached once; the flag
// makes that explicit.
func (x *handle) free() {
	if x.freed.CompareAndSwap(false, true) && x.onFree != nil {
		x.onFree(x.h)
	}
}
