//go:build cgo

package streamkit

import "sync"

// handle guards one C handle (sk_peer* or sk_channel*), stored as a
// uintptr. Every C call takes it with acquire and gives it back with
// release; close marks it closing so that no new call starts, and the
// handle is freed once the last in-flight call has returned. That way a
// Close or Shutdown racing with blocked calls on other goroutines never
// frees a handle under a running C call.
type handle struct {
	mu       sync.Mutex
	h        uintptr
	inflight int
	closing  bool
	freed    bool
	onFree   func(h uintptr) // runs with mu held, exactly once
}

func newHandle(h uintptr, onFree func(uintptr)) *handle {
	return &handle{h: h, onFree: onFree}
}

// acquire returns the C handle for one call, or false if the handle is
// closing or freed.
func (x *handle) acquire() (uintptr, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closing || x.freed {
		return 0, false
	}
	x.inflight++
	return x.h, true
}

// release ends a call started with acquire (or beginClose).
func (x *handle) release() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.inflight--
	x.maybeFreeLocked()
}

// beginClose marks the handle closing and returns it for the closing call
// itself (counted as in flight). It returns false if already closing.
func (x *handle) beginClose() (uintptr, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closing || x.freed {
		return 0, false
	}
	x.closing = true
	x.inflight++
	return x.h, true
}

func (x *handle) isClosing() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.closing || x.freed
}

func (x *handle) maybeFreeLocked() {
	if x.closing && x.inflight == 0 && !x.freed {
		x.freed = true
		if x.onFree != nil {
			x.onFree(x.h)
		}
		x.h = 0
	}
}
