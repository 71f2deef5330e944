//go:build cgo

package streamkit

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Write-behind for small frames. A goroutine writing frames back to back
// (less than streamGap apart) has them buffered here, as they would be on
// the stream, and a flusher goroutine hands each buffer to the library in
// one native call (sk_channel_write) instead of one call per frame. A frame
// written after a pause, or larger than writeBehindFrame, goes to the
// library at once on the caller's goroutine, as before: a request followed
// by a wait for its reply pays no goroutine hand-over.
//
// Every other write-side call (Write, a direct WriteFrame, WriteError,
// CloseWrite, WriteTrailers, Close) first waits until the frames buffered
// before it are handed over, so the other side sees them in call order.
// A failed hand-over (the channel or its connection closed) is reported by
// the next write-side call; the frames still buffered then are dropped.
const (
	writeBehindFrame = 1024     // larger frames are written directly
	writeBehindSize  = 16 << 10 // bytes buffered before WriteFrame waits
)

// streamGap: a small frame written less than this after the previous one
// is buffered. Atomic so that tests can widen it to force write-behind,
// instead of depending on how fast the machine runs the loop.
var streamGap atomic.Int64

func init() { streamGap.Store(int64(20 * time.Microsecond)) }

// Close waits at most this long for buffered frames the other side has no
// window for (as sk_channel_free bounds its close); a variable for tests.
var writeBehindCloseWait = 5 * time.Second

// epoch is the origin of writeBehind.last: time.Since of a time with a
// monotonic reading is one read of the runtime's clock.
var epoch = time.Now()

type writeBehind struct {
	mu   sync.Mutex
	cond sync.Cond // on mu: room in buf, a hand-over done, or the flusher exited
	buf  []byte    // frames not yet taken by the flusher
	// spare is the buffer the flusher handed over last, for reuse.
	spare []byte
	busy  bool   // a flusher goroutine is running (buf is empty otherwise)
	seq   uint64 // frames buffered so far
	done  uint64 // frames handed over (or dropped) so far
	// handed counts frames handed over successfully (as byte writes, which
	// the library cannot count as frames: Stats adds them).
	handed uint64
	err    error // the failure that ended write-behind, sticky
	// waiting counts writers blocked for room: a Close then cancels them
	// rather than waiting for a window the other side may never open.
	waiting int

	pending atomic.Bool  // busy, readable without mu
	last    atomic.Int64 // when the last direct WriteFrame was (ns since epoch)
}

// streaming reports whether the previous direct WriteFrame was less than
// streamGap ago, and records this one.
func (w *writeBehind) streaming() bool {
	now := int64(time.Since(epoch))
	s := now-w.last.Load() < streamGap.Load()
	w.last.Store(now)
	return s
}

// WriteFrame writes one length-prefixed message frame. Small frames written
// back to back are buffered (up to 16 KiB) and handed to the library in
// batches by a background goroutine; see Close for what that means when
// the other side stops reading.
func (c *Chan) WriteFrame(frame []byte) error {
	w := &c.wb
	if len(frame) <= writeBehindFrame && (w.pending.Load() || w.streaming()) {
		return c.bufferFrame(frame)
	}
	if err := c.flushWrites(); err != nil {
		return err
	}
	return c.writeBuf(frame, false)
}

// bufferFrame appends one frame to the write-behind buffer, waiting while
// it is full, and starts a flusher if none is running.
func (c *Chan) bufferFrame(frame []byte) error {
	if c.h.isClosing() {
		return errChanClosed()
	}
	w := &c.wb
	w.mu.Lock()
	for w.err == nil && w.busy && len(w.buf)+4+len(frame) > writeBehindSize {
		w.waiting++
		w.cond.Broadcast() // a waiting Close re-checks `waiting`
		w.cond.Wait()
		w.waiting--
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, writeBehindSize+4+writeBehindFrame)
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(frame)))
	w.buf = append(w.buf, frame...)
	w.seq++
	if !w.busy {
		w.busy = true
		w.pending.Store(true)
		go c.flushBehind()
	}
	w.mu.Unlock()
	return nil
}

// flushBehind hands buffered frames to the library until none are left.
func (c *Chan) flushBehind() {
	w := &c.wb
	w.mu.Lock()
	for len(w.buf) > 0 && w.err == nil {
		b, seq := w.buf, w.seq
		w.buf, w.spare = w.spare[:0], nil
		w.cond.Broadcast() // room for waiting writers
		w.mu.Unlock()
		_, err := c.writeBytes(b)
		w.mu.Lock()
		w.spare = b[:0]
		if err == nil {
			w.handed += seq - w.done
		}
		w.done = seq
		if err != nil && w.err == nil {
			w.err = err
		}
	}
	if w.err != nil {
		w.buf = w.buf[:0] // dropped: the channel failed
		w.done = w.seq
	}
	w.busy = false
	w.pending.Store(false)
	w.cond.Broadcast()
	w.mu.Unlock()
}

// flushWrites waits until the frames buffered before this call have been
// handed to the library; it returns the error that ended write-behind, if
// any.
func (c *Chan) flushWrites() error {
	w := &c.wb
	if !w.pending.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.seq
	for w.done < target && w.err == nil {
		w.cond.Wait()
	}
	return w.err
}

// closeWrites ends write-behind for Close: it waits for the buffered frames
// to be handed over, unless a writer is blocked waiting for room (Close then
// cancels it: the writer gets ErrClosed) or writeBehindCloseWait passes
// without the other side opening its window (then it returns an ErrTimeout
// error). Frames still buffered are dropped; later writes fail with
// ErrClosed.
func (c *Chan) closeWrites() error {
	w := &c.wb
	w.mu.Lock()
	defer w.mu.Unlock()
	var dropped error
	if w.busy {
		wait := writeBehindCloseWait
		deadline := time.Now().Add(wait)
		t := time.AfterFunc(wait, func() {
			w.mu.Lock()
			w.cond.Broadcast()
			w.mu.Unlock()
		})
		target := w.seq
		for w.done < target && w.err == nil && w.waiting == 0 && time.Now().Before(deadline) {
			w.cond.Wait()
		}
		t.Stop()
		if w.done < target && w.err == nil && w.waiting == 0 {
			dropped = newError(CodeTimeout, "close: frames buffered by WriteFrame were not delivered: the other side did not open its window")
		}
	}
	if w.err == nil {
		w.err = errChanClosed()
	}
	if !w.busy {
		w.buf, w.spare = nil, nil // the flusher's buffers go with the channel
	}
	w.cond.Broadcast()
	return dropped
}
