//go:build cgo

package streamkit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// ReadFrame reads frames ahead (sk_channel_read_frames); a byte Read after
// it returns exactly the stream bytes that follow the frames returned, also
// when it stops inside a frame, and ReadFrame continues from there.
func TestReadFrameReadAheadThenRead(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "ahead", nil)
	defer a.Close()
	defer b.Close()
	const n = 100
	for i := 0; i < n; i++ {
		if err := a.WriteFrame([]byte{byte(i), 1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let them all arrive
	f, err := b.ReadFrameTimeout(10 * time.Second)
	if err != nil || !bytes.Equal(f, []byte{0, 1, 2}) {
		t.Fatalf("first frame: %v %v", f, err)
	}
	b.amu.Lock()
	ahead := b.aend - b.aoff
	b.amu.Unlock()
	if ahead == 0 {
		t.Fatal("no frames were read ahead")
	}
	// Frame 1 as raw bytes: 5 bytes, then 2 (the read stops inside it).
	head := make([]byte, 5)
	if _, err := io.ReadFull(onlyReader{b}, head); err != nil || !bytes.Equal(head, []byte{0, 0, 0, 3, 1}) {
		t.Fatalf("raw bytes: %v %v", head, err)
	}
	rest := make([]byte, 2)
	if _, err := io.ReadFull(onlyReader{b}, rest); err != nil || !bytes.Equal(rest, []byte{1, 2}) {
		t.Fatalf("raw bytes: %v %v", rest, err)
	}
	for i := 2; i < n; i++ {
		f, err := b.ReadFrameTimeout(10 * time.Second)
		if err != nil || !bytes.Equal(f, []byte{byte(i), 1, 2}) || cap(f) != len(f) {
			t.Fatalf("frame %d: %v %v", i, f, err)
		}
	}
	a.CloseWrite()
	if _, err := b.ReadFrameTimeout(10 * time.Second); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

// Several goroutines reading frames, small ones (read ahead) and ones too
// large for the read-ahead buffer (read alone), between them get every
// frame once, and each sees them in stream order.
func TestReadFrameConcurrentReadersInOrder(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "order", nil)
	defer a.Close()
	defer b.Close()
	const n = 20000
	go func() {
		for i := 0; i < n; i++ {
			size := 8
			if i%1000 == 7 {
				size = readAheadSize + 100
			}
			f := make([]byte, size)
			binary.BigEndian.PutUint64(f, uint64(i))
			if err := a.WriteFrame(f); err != nil {
				t.Error(err)
				return
			}
		}
		a.CloseWrite()
	}()
	var mu sync.Mutex
	seen := make([]bool, n)
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for {
				f, err := b.ReadFrameTimeout(10 * time.Second)
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				i := int(binary.BigEndian.Uint64(f))
				want := 8
				if i%1000 == 7 {
					want = readAheadSize + 100
				}
				if i <= last || i >= n || len(f) != want {
					t.Errorf("frame %d (%d bytes) after %d", i, len(f), last)
					return
				}
				last = i
				mu.Lock()
				if seen[i] {
					t.Errorf("frame %d twice", i)
				}
				seen[i] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Fatalf("frame %d never read", i)
		}
	}
}

// A ReadFrameTimeout (or ReadFrameContext) while another goroutine waits
// in ReadFrame returns on time, and consumes nothing.
func TestReadFrameTimeoutWhileAnotherWaits(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "wait", nil)
	defer a.Close()
	defer b.Close()
	got := make(chan []byte, 1)
	go func() {
		f, err := b.ReadFrame()
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if _, err := b.ReadFrameTimeout(100 * time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("ReadFrameTimeout: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 30*time.Second {
		t.Fatalf("ReadFrameTimeout took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.ReadFrameContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadFrameContext: %v", err)
	}
	if err := a.WriteFrame([]byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-got:
		if string(f) != "x" {
			t.Fatalf("waiting ReadFrame got %q", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting ReadFrame did not return")
	}
}

// Frames read ahead are not returned after Close, and ReadFrame fails as
// closed.
func TestReadFrameAfterCloseWithFramesReadAhead(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "closed", nil)
	defer a.Close()
	for i := 0; i < 10; i++ {
		if err := a.WriteFrame([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := b.ReadFrameTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := b.ReadFrame(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}
	if _, err := b.Read(make([]byte, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}
