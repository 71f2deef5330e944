//go:build cgo

package streamkit

/*
#include "shim.h"
*/
import "C"

// evPump is the goroutine behind (*Peer).Events.
type evPump struct {
	ch      chan Event
	done    chan struct{} // closed by Shutdown
	stopped chan struct{} // closed when the goroutine has returned
}

// Events returns the channel of the peer's events (see Event). The first
// call starts one goroutine that takes events from the library and sends
// them; later calls return the same channel. Events wait in the library's
// bounded queue, which never slows I/O: a reader too slow to keep up gets
// an EventOverflow counting what was dropped.
//
// The channel is closed at Shutdown: Shutdown returns once the goroutine
// has ended (events still undelivered then are dropped). Called after
// Shutdown, Events returns a closed channel. A peer whose Events were
// started stays reachable until Shutdown, so shut it down.
func (p *Peer) Events() <-chan Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ev == nil {
		p.ev = &evPump{
			ch:      make(chan Event, 16),
			done:    make(chan struct{}),
			stopped: make(chan struct{}),
		}
		go p.pumpEvents(p.ev)
	}
	return p.ev.ch
}

// stopEvents ends the Events goroutine (called by Shutdown, once).
func (p *Peer) stopEvents() {
	p.mu.Lock()
	ev := p.ev
	p.mu.Unlock()
	if ev != nil {
		close(ev.done)
		<-ev.stopped
	}
}

func (p *Peer) pumpEvents(ev *evPump) {
	defer close(ev.stopped)
	defer close(ev.ch)
	for {
		var e Event
		err := p.call(func(h C.uintptr_t) error {
			var out C.uintptr_t
			var msg *C.char
			r := C.skgo_peer_next_event(h, -1, &out, &msg)
			if err := cError(r, msg); err != nil {
				return err
			}
			e = eventOf(out)
			return nil
		})
		if err != nil {
			return // ErrClosed: shut down
		}
		select {
		case ev.ch <- e:
		case <-ev.done:
			return
		}
	}
}

// eventOf copies a C event into Go and frees it.
func eventOf(e C.uintptr_t) Event {
	defer C.skgo_event_free(e)
	str := func(which C.int) string {
		s := C.skgo_event_str(e, which)
		if s == nil {
			return ""
		}
		return C.GoString(s)
	}
	kind := "unknown"
	switch C.skgo_event_kind(e) {
	case C.SK_EVENT_CONNECTED:
		kind = EventConnected
	case C.SK_EVENT_DISCONNECTED:
		kind = EventDisconnected
	case C.SK_EVENT_RECONNECTING:
		kind = EventReconnecting
	case C.SK_EVENT_AUTH_FAILED:
		kind = EventAuthFailed
	case C.SK_EVENT_REFUSED:
		kind = EventRefused
	case C.SK_EVENT_HANDSHAKE_FAILED:
		kind = EventHandshakeFailed
	case C.SK_EVENT_OVERFLOW:
		kind = EventOverflow
	}
	return Event{
		Kind:        kind,
		Peer:        str(0),
		Endpoint:    str(1),
		Fingerprint: str(2),
		Reason:      str(3),
	}
}
