//go:build cgo

package streamkit

/*
#include "shim.h"

// The hot-path shims never call back into Go and keep no pointer to the Go
// memory they are given, which lets cgo skip work on every call.
#cgo nocallback skgo_channel_write_frame_fast
#cgo noescape skgo_channel_write_frame_fast
#cgo nocallback skgo_channel_read_frame_fast
#cgo noescape skgo_channel_read_frame_fast
#cgo nocallback skgo_channel_read_frames
#cgo noescape skgo_channel_read_frames
#cgo nocallback skgo_channel_unread
#cgo noescape skgo_channel_unread
*/
import "C"

import (
	"context"
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Chan is the concrete type of every Channel (and ChannelMeta) returned by
// this package. Besides the Channel methods it offers ReadFrameTimeout,
// ReadFrameContext, ReadErrorContext, AcceptTimeout and AcceptContext. All
// methods are safe for concurrent use.
type Chan struct {
	h *handle

	// Size of the last frame (error frame) read, to size the next read's
	// buffer.
	frameHint atomic.Int32
	errorHint atomic.Int32

	// Frames read ahead by ReadFrame: ahead[aoff:aend] holds whole frames
	// as they were on the stream (4-byte big-endian length, payload),
	// taken with one sk_channel_read_frames call. Guarded by amu. Only the
	// goroutine holding the fill token takes stream bytes from the library
	// for ReadFrame, and only while nothing is read ahead, so frames come
	// out in stream order. Read gives what is left back to the library
	// (sk_channel_unread) before reading bytes.
	amu        sync.Mutex
	ahead      []byte
	aoff, aend int
	aheadSize  int // the size of the next read-ahead buffer (0: readAheadMin)
	fill       chan struct{}

	wb writeBehind // small frames written back to back (writebehind.go)

	mu         sync.Mutex
	metaLoaded bool
	service    string
	headers    []string
	localPeer  string
	remotePeer string
	remoteKey  string
	remoteFp   string
	trailers   []string // snapshot taken by Close
}

var (
	_ Channel            = (*Chan)(nil)
	_ ChannelMeta        = (*Chan)(nil)
	_ Identity           = (*Chan)(nil)
	_ io.ReadWriteCloser = (*Chan)(nil)
)

func newChan(h uintptr) *Chan {
	c := &Chan{h: newHandle(h, func(h uintptr) { C.skgo_channel_free(C.uintptr_t(h)) }), fill: make(chan struct{}, 1)}
	c.wb.cond.L = &c.wb.mu
	// Safety net for a channel that is never closed: sk_channel_free closes
	// it (bounded at about 5 s) and releases the handle. Cleanups run one at
	// a time, so this deliberately avoids the unbounded sk_channel_close.
	runtime.AddCleanup(c, func(x *handle) {
		if _, ok := x.beginClose(); ok {
			x.release() // frees: nothing else can be in flight
		}
	}, c.h)
	return c
}

func errChanClosed() error { return newError(CodeClosed, "channel is closed") }

func (c *Chan) acquire() (C.uintptr_t, error) {
	h, ok := c.h.acquire()
	if !ok {
		return 0, errChanClosed()
	}
	return C.uintptr_t(h), nil
}

func (c *Chan) release() {
	c.h.release()
	runtime.KeepAlive(c)
}

// bytesPtr is the C view of a byte slice (NULL if empty). It is typed, not
// an unsafe.Pointer, so that cgo does not check the memory behind it for
// Go pointers on every call (bytes hold none).
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// Write writes all of data to the channel's byte stream.
func (c *Chan) Write(data []byte) (int, error) {
	if err := c.flushWrites(); err != nil {
		return 0, err
	}
	return c.writeBytes(data)
}

// writeBytes is Write without waiting for buffered frames.
func (c *Chan) writeBytes(data []byte) (int, error) {
	h, err := c.acquire()
	if err != nil {
		return 0, err
	}
	defer c.release()
	if len(data) == 0 {
		return 0, nil
	}
	var written C.size_t
	var msg *C.char
	r := C.skgo_channel_write(h, bytesPtr(data), C.size_t(len(data)), &written, &msg)
	if err := cError(r, msg); err != nil {
		return int(written), err
	}
	return int(written), nil
}

func (c *Chan) read(data []byte, timeout time.Duration) (int, error) {
	h, err := c.acquire()
	if err != nil {
		return 0, err
	}
	defer c.release()
	if len(data) == 0 {
		return 0, nil
	}
	if err := c.unreadAhead(h); err != nil {
		return 0, err
	}
	var n C.size_t
	var msg *C.char
	r := C.skgo_channel_read(h, bytesPtr(data), C.size_t(len(data)), &n, timeoutMs(timeout), &msg)
	if err := cError(r, msg); err != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeEOF {
			return 0, io.EOF
		}
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

// Read reads from the channel's byte stream, following io.Reader: it
// returns n > 0 bytes, or 0 and io.EOF once the other side has closed (or
// closed for writing) and everything was read. Read of an empty slice
// returns 0, nil.
func (c *Chan) Read(data []byte) (int, error) {
	return c.read(data, -1)
}

// ReadTimeout is Read with a time limit (ErrTimeout; d < 0 waits forever).
func (c *Chan) ReadTimeout(data []byte, d time.Duration) (int, error) {
	return c.read(data, d)
}

// readBuf reads one frame (isError: one error frame) in a single cgo call,
// straight into a Go slice sized from the channel's previous frame; a
// larger frame comes back in C memory and is copied.
func (c *Chan) readBuf(isError bool, timeout time.Duration) ([]byte, error) {
	h, err := c.acquire()
	if err != nil {
		return nil, err
	}
	hint := &c.frameHint
	flag := C.int(0)
	if isError {
		hint = &c.errorHint
		flag = 1
	}
	size := int(hint.Load())
	if size < minFrameGuess {
		size = minFrameGuess
	}
	out := make([]byte, size)
	res := C.skgo_channel_read_frame_fast(h, flag, bytesPtr(out), C.size_t(size), timeoutMs(timeout))
	c.release()
	p := res.p
	if res.rc != C.SK_OK {
		if res.rc == C.SK_ERR_EOF {
			return nil, io.EOF
		}
		return nil, cError(C.int(res.rc), (*C.char)(p))
	}
	n := int(res.n)
	if res.big != 0 {
		f := C.GoBytes(p, C.int(n))
		C.skgo_free_data(p, res.n)
		if n <= maxFrameGuess {
			hint.Store(int32(n))
		}
		return f, nil
	}
	if n < size/4 && size > minFrameGuess {
		hint.Store(int32(n)) // shrink after a much smaller frame
	}
	return out[:n:n], nil
}

// ReadFrame reads frames ahead into a per-channel buffer: readAheadMin
// bytes at first, doubled (up to readAheadSize) while batches fill more than
// half of it or a frame did not fit; one native call per buffer of small
// frames. Larger frames are read one per call.
const (
	readAheadMin  = 1 << 10
	readAheadSize = 16 << 10
)

// popAhead returns the next frame read ahead, if there is one.
func (c *Chan) popAhead() ([]byte, bool) {
	c.amu.Lock()
	defer c.amu.Unlock()
	return c.popAheadLocked()
}

// popAheadLocked is popAhead with amu held.
func (c *Chan) popAheadLocked() ([]byte, bool) {
	if c.aoff >= c.aend {
		return nil, false
	}
	rec := c.ahead[c.aoff:c.aend]
	n := int(binary.BigEndian.Uint32(rec))
	f := make([]byte, n)
	copy(f, rec[4:4+n])
	c.aoff += 4 + n
	return f, true
}

// unreadAhead gives the frames read ahead back to the library, in front
// of the byte stream, so that a byte read returns them first; h is held.
func (c *Chan) unreadAhead(h C.uintptr_t) error {
	c.amu.Lock()
	defer c.amu.Unlock()
	if c.aoff >= c.aend {
		return nil
	}
	rest := c.ahead[c.aoff:c.aend]
	res := C.skgo_channel_unread(h, bytesPtr(rest), C.size_t(len(rest)))
	if err := cError(C.int(res.rc), (*C.char)(res.p)); err != nil {
		return err
	}
	c.aoff, c.aend = 0, 0
	return nil
}

// readFrame reads one frame: from the frames read ahead if any, else with
// one native call that also reads ahead what else has arrived.
func (c *Chan) readFrame(timeout time.Duration) ([]byte, error) {
	if c.h.isClosing() {
		return nil, errChanClosed()
	}
	if f, ok := c.popAhead(); ok {
		return f, nil
	}
	// Take the fill token (within the timeout).
	var start time.Time
	select {
	case c.fill <- struct{}{}:
	default:
		if timeout >= 0 {
			start = time.Now()
			t := time.NewTimer(timeout)
			select {
			case c.fill <- struct{}{}:
				t.Stop()
			case <-t.C:
				return nil, newError(CodeTimeout, "read_frame: no result within the timeout")
			}
		} else {
			c.fill <- struct{}{}
		}
	}
	defer func() { <-c.fill }()
	if f, ok := c.popAhead(); ok { // read ahead by the goroutine we waited for
		return f, nil
	}
	if !start.IsZero() {
		if timeout -= time.Since(start); timeout < 0 {
			timeout = 0
		}
	}
	h, err := c.acquire()
	if err != nil {
		return nil, err
	}
	c.amu.Lock()
	buf, size := c.ahead, max(c.aheadSize, readAheadMin)
	c.amu.Unlock()
	if len(buf) < size {
		buf = make([]byte, size)
	}
	res := C.skgo_channel_read_frames(h, bytesPtr(buf), C.size_t(len(buf)), timeoutMs(timeout))
	c.release()
	if res.rc != C.SK_OK {
		if res.rc == C.SK_ERR_EOF {
			return nil, io.EOF
		}
		return nil, cError(C.int(res.rc), (*C.char)(res.p))
	}
	if res.n == 0 {
		// A frame that does not fit in the buffer (or an error that the
		// one-frame read reports): read it alone, still holding the token.
		f, err := c.readBuf(false, timeout)
		if err == nil && len(f)+4 > len(buf) && len(f)+4 <= readAheadSize {
			for size < len(f)+4 {
				size *= 2
			}
			c.amu.Lock()
			c.aheadSize = size
			c.amu.Unlock()
		}
		return f, err
	}
	c.amu.Lock()
	if c.h.isClosing() {
		c.amu.Unlock()
		return nil, errChanClosed()
	}
	c.ahead, c.aoff, c.aend = buf, 0, int(res.n)
	if int(res.n) > len(buf)/2 && len(buf) < readAheadSize {
		c.aheadSize = 2 * len(buf)
	}
	f, _ := c.popAheadLocked()
	c.amu.Unlock()
	return f, nil
}

// Bounds of the per-channel guess of the next frame's size (the Go buffer
// a frame is read into; a larger frame costs one more copy).
const (
	minFrameGuess = 128
	maxFrameGuess = 64 << 10
)

func (c *Chan) writeBuf(data []byte, isError bool) error {
	h, err := c.acquire()
	if err != nil {
		return err
	}
	flag := C.int(0)
	if isError {
		flag = 1
	}
	res := C.skgo_channel_write_frame_fast(h, flag, bytesPtr(data), C.size_t(len(data)))
	c.release()
	if res.rc == C.SK_OK {
		return nil
	}
	return cError(C.int(res.rc), (*C.char)(res.p))
}

// ReadFrame reads one message frame; io.EOF at a clean end of stream. A
// frame larger than OptMaxFrameSize fails with ErrProtocol and closes the
// channel. Small frames that have already arrived are read ahead, up to
// 16 KiB per channel (1 KiB at first) in one native call, and returned by
// the next ReadFrame calls; a Read after ReadFrame returns those bytes
// first.
func (c *Chan) ReadFrame() ([]byte, error) { return c.readFrame(-1) }

// ReadFrameTimeout is ReadFrame with a time limit (ErrTimeout; d < 0 waits
// forever). A timed-out read consumes nothing.
func (c *Chan) ReadFrameTimeout(d time.Duration) ([]byte, error) {
	return c.readFrame(d)
}

// ReadFrameContext is ReadFrame that also returns when ctx is done.
func (c *Chan) ReadFrameContext(ctx context.Context) ([]byte, error) {
	return pollContext(ctx, func(d time.Duration) ([]byte, error) { return c.readFrame(d) })
}

// WriteError writes one error frame (on the SSH extended-data stream).
func (c *Chan) WriteError(frame []byte) error {
	if err := c.flushWrites(); err != nil {
		return err
	}
	return c.writeBuf(frame, true)
}

// ReadError reads one error frame; io.EOF at the end of the stream.
func (c *Chan) ReadError() ([]byte, error) { return c.readBuf(true, -1) }

// ReadErrorTimeout is ReadError with a time limit.
func (c *Chan) ReadErrorTimeout(d time.Duration) ([]byte, error) {
	return c.readBuf(true, d)
}

// ReadErrorContext is ReadError that also returns when ctx is done.
func (c *Chan) ReadErrorContext(ctx context.Context) ([]byte, error) {
	return pollContext(ctx, func(d time.Duration) ([]byte, error) { return c.readBuf(true, d) })
}

// CloseWrite sends end-of-stream; the channel can still be read.
func (c *Chan) CloseWrite() error {
	if err := c.flushWrites(); err != nil {
		return err
	}
	h, err := c.acquire()
	if err != nil {
		return err
	}
	defer c.release()
	var msg *C.char
	r := C.skgo_channel_close_write(h, &msg)
	return cError(r, msg)
}

// WriteTrailers sends trailers (key=value strings); the other side can
// read them with Trailers once this side has closed or closed for writing.
func (c *Chan) WriteTrailers(trailers []string) error {
	if err := c.flushWrites(); err != nil {
		return err
	}
	h, err := c.acquire()
	if err != nil {
		return err
	}
	defer c.release()
	ts := newCStrings(trailers)
	defer ts.free()
	var msg *C.char
	r := C.skgo_channel_write_trailers(h, ts.arr, C.size_t(ts.n), &msg)
	return cError(r, msg)
}

// Close closes the channel in both directions, unblocks calls blocked on
// it and releases its handle. Calling it again does nothing.
//
// Frames that WriteFrame buffered are handed to the library first, so they
// are delivered as if each WriteFrame had returned only once the library
// took its frame: if the other side's window is closed, Close waits for it
// (at most 5 s; then the frames are dropped and Close returns an ErrTimeout
// error), unless a WriteFrame is blocked waiting for buffer room: that
// Close cancels the writer, and the frames are dropped.
func (c *Chan) Close() error {
	if c.h.isClosing() {
		return nil
	}
	dropped := c.closeWrites()
	h, ok := c.h.beginClose()
	if !ok {
		return nil
	}
	defer c.h.release()
	ch := C.uintptr_t(h)
	c.amu.Lock()
	c.ahead, c.aoff, c.aend = nil, 0, 0
	c.amu.Unlock()
	c.loadMeta(ch)
	var msg *C.char
	r := C.skgo_channel_close(ch, &msg)
	err := cError(r, msg)
	if err == nil {
		err = dropped
	}
	if ts, terr := fetchTrailers(ch); terr == nil {
		c.mu.Lock()
		c.trailers = ts
		c.mu.Unlock()
	}
	runtime.KeepAlive(c)
	return err
}

// Open opens a child channel inside this one; the other side gets it from
// its end's Accept.
func (c *Chan) Open(service string, headers []string) (Channel, error) {
	h, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.release()
	csvc := C.CString(service)
	defer C.free(unsafe.Pointer(csvc))
	hs := newCStrings(headers)
	defer hs.free()
	var out C.uintptr_t
	var msg *C.char
	r := C.skgo_channel_open(h, csvc, hs.arr, C.size_t(hs.n), &out, &msg)
	if err := cError(r, msg); err != nil {
		return nil, err
	}
	return newChan(uintptr(out)), nil
}

func (c *Chan) accept(timeout time.Duration) (*Chan, error) {
	h, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.release()
	var out C.uintptr_t
	var msg *C.char
	r := C.skgo_channel_accept(h, timeoutMs(timeout), &out, &msg)
	if err := cError(r, msg); err != nil {
		return nil, err
	}
	return newChan(uintptr(out)), nil
}

// Accept waits for a child channel opened by the other side with Open. It
// returns (nil, nil) once this channel is closed.
func (c *Chan) Accept() (ChannelMeta, Channel) {
	ch, err := c.accept(-1)
	if err != nil {
		return nil, nil
	}
	return ch, ch
}

// AcceptTimeout is Accept with a time limit and an error.
func (c *Chan) AcceptTimeout(d time.Duration) (ChannelMeta, Channel, error) {
	ch, err := c.accept(d)
	if err != nil {
		return nil, nil, err
	}
	return ch, ch, nil
}

// AcceptContext is Accept that also returns when ctx is done.
func (c *Chan) AcceptContext(ctx context.Context) (ChannelMeta, Channel, error) {
	ch, err := pollContext(ctx, c.accept)
	if err != nil {
		return nil, nil, err
	}
	return ch, ch, nil
}

// Meta returns the channel's metadata (the channel itself).
func (c *Chan) Meta() ChannelMeta { return c }

func cStringCall(h C.uintptr_t, fn func(C.uintptr_t, **C.char, **C.char) C.int) string {
	var out, msg *C.char
	if cError(fn(h, &out, &msg), msg) != nil {
		return ""
	}
	return takeString(out)
}

func cListCall(h C.uintptr_t, fn func(C.uintptr_t, *C.sk_strlist, **C.char) C.int) ([]string, error) {
	var l C.sk_strlist
	var msg *C.char
	if err := cError(fn(h, &l, &msg), msg); err != nil {
		return nil, err
	}
	return takeStrlist(&l), nil
}

func fetchTrailers(h C.uintptr_t) ([]string, error) {
	return cListCall(h, func(h C.uintptr_t, l *C.sk_strlist, m **C.char) C.int {
		return C.skgo_channel_trailers(h, l, m)
	})
}

// loadMeta fetches the fixed metadata once; h must be held.
func (c *Chan) loadMeta(h C.uintptr_t) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.metaLoaded {
		return
	}
	c.service = cStringCall(h, func(h C.uintptr_t, o, m **C.char) C.int { return C.skgo_channel_service(h, o, m) })
	c.localPeer = cStringCall(h, func(h C.uintptr_t, o, m **C.char) C.int { return C.skgo_channel_local_peer(h, o, m) })
	c.remotePeer = cStringCall(h, func(h C.uintptr_t, o, m **C.char) C.int { return C.skgo_channel_remote_peer(h, o, m) })
	c.remoteKey = cStringCall(h, func(h C.uintptr_t, o, m **C.char) C.int { return C.skgo_channel_remote_key(h, o, m) })
	c.remoteFp = cStringCall(h, func(h C.uintptr_t, o, m **C.char) C.int { return C.skgo_channel_remote_fingerprint(h, o, m) })
	hs, err := cListCall(h, func(h C.uintptr_t, l *C.sk_strlist, m **C.char) C.int {
		return C.skgo_channel_headers(h, l, m)
	})
	if err != nil {
		hs = []string{}
	}
	c.headers = hs
	c.metaLoaded = true
}

func (c *Chan) meta() *Chan {
	c.mu.Lock()
	loaded := c.metaLoaded
	c.mu.Unlock()
	if !loaded {
		if h, err := c.acquire(); err == nil {
			c.loadMeta(h)
			c.release()
		}
	}
	return c
}

// Service returns the service name the channel was opened with.
func (c *Chan) Service() string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.service
}

// Headers returns the headers the channel was opened with.
func (c *Chan) Headers() []string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.headers...)
}

// LocalPeer returns this side's peer name.
func (c *Chan) LocalPeer() string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localPeer
}

// RemotePeer returns the other side's peer name.
func (c *Chan) RemotePeer() string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remotePeer
}

// RemoteKey returns the public key the other side authenticated with, as
// one OpenSSH line without a comment ("ssh-ed25519 AAAA..."). For inproc
// channels it is the other peer's own key.
func (c *Chan) RemoteKey() string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteKey
}

// RemoteFingerprint returns the SHA256 fingerprint of RemoteKey, exactly as
// `ssh-keygen -lf` prints it ("SHA256:" and unpadded base64).
func (c *Chan) RemoteFingerprint() string {
	c.meta()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteFp
}

// Trailers returns the trailers received from the other side so far; all
// of them are there once the other side has closed or closed for writing.
// After Close it returns those received before Close.
func (c *Chan) Trailers() []string {
	h, err := c.acquire()
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]string{}, c.trailers...)
	}
	defer c.release()
	ts, err := fetchTrailers(h)
	if err != nil {
		return []string{}
	}
	return ts
}
