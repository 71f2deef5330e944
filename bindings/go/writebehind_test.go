//go:build cgo

package streamkit

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// forceWriteBehind makes every small WriteFrame of the test go through
// write-behind, whatever the machine's speed (the 20 µs rule is timing).
func forceWriteBehind(t *testing.T) {
	old := streamGap.Load()
	streamGap.Store(int64(time.Hour))
	t.Cleanup(func() { streamGap.Store(old) })
}

// streamFrames writes n 8-byte frames (their index) back to back, so that
// write-behind buffers them, and fails the test unless it did.
func streamFrames(t *testing.T, a *Chan, n int) {
	t.Helper()
	f := make([]byte, 8)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(f, uint64(i))
		if err := a.WriteFrame(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	a.wb.mu.Lock()
	buffered := a.wb.seq
	a.wb.mu.Unlock()
	if buffered == 0 {
		t.Fatal("no frame went through write-behind")
	}
}

// Frames buffered by WriteFrame reach the other side before the bytes,
// error frame and end of stream written after them, and before Close.
func TestWriteBehindKeepsOrder(t *testing.T) {
	forceWriteBehind(t)
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "wb-order", nil)
	defer b.Close()
	const n = 50000
	done := make(chan error, 1)
	go func() {
		// Read everything: n frames, then the byte tail, the error frame.
		for i := 0; i < n; i++ {
			f, err := b.ReadFrameTimeout(10 * time.Second)
			if err != nil || len(f) != 8 || binary.BigEndian.Uint64(f) != uint64(i) {
				done <- errors.New("frame out of order or missing")
				t.Errorf("frame %d: %v %v", i, f, err)
				return
			}
		}
		tail, err := io.ReadAll(b)
		if err != nil || string(tail) != "tail" {
			done <- errors.New("byte tail")
			t.Errorf("tail: %q %v", tail, err)
			return
		}
		e, err := b.ReadError()
		if err != nil || string(e) != "oops" {
			t.Errorf("error frame: %q %v", e, err)
		}
		done <- nil
	}()
	streamFrames(t, a, n)
	if _, err := a.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteError([]byte("oops")); err != nil {
		t.Fatal(err)
	}
	if err := a.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// Close right after a stream of small frames delivers all of them.
func TestWriteBehindCloseDelivers(t *testing.T) {
	forceWriteBehind(t)
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "wb-close", nil)
	defer b.Close()
	const n = 100000 // 1.2 MB: more than the starting window
	got := make(chan int, 1)
	go func() {
		i := 0
		for {
			f, err := b.ReadFrameTimeout(10 * time.Second)
			if err != nil {
				if err != io.EOF {
					t.Errorf("after %d frames: %v", i, err)
				}
				got <- i
				return
			}
			if binary.BigEndian.Uint64(f) != uint64(i) {
				t.Errorf("frame %d out of order", i)
			}
			i++
		}
	}()
	streamFrames(t, a, n)
	if err := a.Close(); err != nil {
		t.Fatal("Close:", err)
	}
	if i := <-got; i != n {
		t.Fatalf("received %d frames, sent %d", i, n)
	}
}

// A Close from another goroutine cancels a writer blocked on a full
// write-behind buffer (the other side never reads) at once.
func TestWriteBehindCloseCancelsBlockedWriter(t *testing.T) {
	forceWriteBehind(t)
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "wb-cancel", nil)
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		f := make([]byte, 64)
		for {
			if err := a.WriteFrame(f); err != nil {
				errc <- err
				return
			}
		}
	}()
	waitFor(t, "the writer to block on a full buffer", func() bool {
		a.wb.mu.Lock()
		defer a.wb.mu.Unlock()
		return a.wb.waiting > 0
	})
	t0 := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal("Close:", err)
	}
	if d := time.Since(t0); d > 30*time.Second { // liveness only
		t.Fatalf("Close took %v", d)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked WriteFrame: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not unblock WriteFrame")
	}
}

// When the other side never opens its window, Close gives up on the
// buffered frames after writeBehindCloseWait and says so.
func TestWriteBehindCloseTimeout(t *testing.T) {
	forceWriteBehind(t)
	old := writeBehindCloseWait
	writeBehindCloseWait = 300 * time.Millisecond
	t.Cleanup(func() { writeBehindCloseWait = old })
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "wb-timeout", nil)
	defer b.Close()
	// More frames than the starting window (CHANNEL_WINDOW, 256 KiB by
	// default; b never reads, so it never grows), by less than the buffer:
	// the flusher then waits for the window with frames still buffered, and
	// no writer blocks.
	f := make([]byte, 64)
	for i := 0; i < (256<<10+8<<10)/(4+len(f)); i++ {
		if err := a.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the flusher to wait for the window", func() bool {
		a.wb.mu.Lock()
		d0 := a.wb.done
		a.wb.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		a.wb.mu.Lock()
		defer a.wb.mu.Unlock()
		return a.wb.busy && a.wb.done == d0 && a.wb.waiting == 0
	})
	t0 := time.Now()
	err := a.Close()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Close with undeliverable frames: %v", err)
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 30*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := a.WriteFrame(f); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteFrame after Close: %v", err)
	}
}
