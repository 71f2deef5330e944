//go:build cgo

package streamkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// openPair opens a channel client->server and accepts it.
func openPair(t testing.TB, server, client *Peer, service string, headers []string) (opened, accepted *Chan) {
	t.Helper()
	ch, err := client.Open(name(server), service, headers)
	if err != nil {
		t.Fatal(err)
	}
	_, ach := acceptT(t, server)
	return ch.(*Chan), ach.(*Chan)
}

func TestOptionConstants(t *testing.T) {
	want := []int{OptPrivateKey, OptAuthorizedKeys, OptName, OptReconnectInterval, OptReconnectIntervalMax,
		OptConnectTimeout, OptMaxFrameSize, OptKnownHosts, OptKeepaliveInterval, OptKeepaliveCount,
		OptHandshakeTimeout, OptMaxChannels, OptChannelWindow, OptAcceptBacklog, OptWindowBudget,
		OptMaxConnectionsPerKey}
	for i, v := range want {
		if v != i {
			t.Fatalf("option %d has value %d", i, v)
		}
	}
}

func TestVersionAndKeys(t *testing.T) {
	if Version() == "" {
		t.Fatal("empty version")
	}
	k, err := GenerateKey()
	if err != nil || !strings.Contains(k, "PRIVATE KEY") {
		t.Fatalf("GenerateKey: %q %v", k, err)
	}
	p := newTestPeer(t, "")
	pub, err := p.PublicKey()
	if err != nil || !strings.HasPrefix(pub, "ssh-ed25519 ") {
		t.Fatalf("PublicKey: %q %v", pub, err)
	}
}

func TestOptions(t *testing.T) {
	p := newTestPeer(t, "")
	if s, ok := p.GetOption(OptName).(string); !ok || s == "" {
		t.Fatalf("default name: %#v", p.GetOption(OptName))
	}
	if err := p.SetOption(OptName, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := p.GetOption(OptName); got != "alice" {
		t.Fatalf("name: %#v", got)
	}
	if got := p.GetOption(OptReconnectInterval); got != 100 {
		t.Fatalf("default reconnect interval: %#v (%T)", got, got)
	}
	for _, v := range []interface{}{250, int32(250), int64(250), uint16(250), 250 * time.Millisecond} {
		if err := p.SetOption(OptConnectTimeout, 1); err != nil {
			t.Fatal(err)
		}
		if err := p.SetOption(OptConnectTimeout, v); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if got := p.GetOption(OptConnectTimeout); got != 250 {
			t.Fatalf("%T: got %#v", v, got)
		}
	}
	if err := p.SetOption(OptReconnectInterval, -1); err != nil {
		t.Fatal(err)
	}
	// Wrong Go types: ErrInvalid, naming the option and the expected type.
	err := p.SetOption(OptName, 42)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "OptName") || !strings.Contains(err.Error(), "string") {
		t.Fatalf("wrong type for OptName: %v", err)
	}
	err = p.SetOption(OptMaxFrameSize, "big")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "OptMaxFrameSize") || !strings.Contains(err.Error(), "int") {
		t.Fatalf("wrong type for OptMaxFrameSize: %v", err)
	}
	if err := p.SetOption(OptMaxFrameSize, time.Second); !errors.Is(err, ErrInvalid) {
		t.Fatalf("duration for a byte count: %v", err)
	}
	if err := p.SetOption(OptMaxFrameSize, uint64(1)<<63); !errors.Is(err, ErrInvalid) {
		t.Fatalf("out of range: %v", err)
	}
	if err := p.SetOption(99, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown option: %v", err)
	}
	if p.GetOption(99) != nil || p.GetOption(-1) != nil {
		t.Fatal("unknown option should read as nil")
	}
	// Values the library rejects come back as library errors.
	if err := p.SetOption(OptName, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeInvalid || se.Msg == "" {
		t.Fatalf("errors.As: %#v", se)
	}
	// GetOption still answers after Shutdown.
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if got := p.GetOption(OptName); got != "alice" {
		t.Fatalf("name after shutdown: %#v", got)
	}
	if err := p.SetOption(OptName, "bob"); !errors.Is(err, ErrClosed) {
		t.Fatalf("set after shutdown: %v", err)
	}
}

func TestFramesAndStreams(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		server, client, _ := pair(t, tr)
		a, b := openPair(t, server, client, "frames", []string{"a=1", "b=2"})
		defer a.Close()
		defer b.Close()
		sizes := []int{0, 1, 64, 4096, 1 << 20}
		go func() {
			for _, n := range sizes {
				if err := a.WriteFrame(bytes.Repeat([]byte{byte(n)}, n)); err != nil {
					t.Error(err)
					return
				}
				if err := a.WriteError([]byte(strings.Repeat("e", n%100))); err != nil {
					t.Error(err)
					return
				}
			}
			a.CloseWrite()
		}()
		for _, n := range sizes {
			f, err := b.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != n || (n > 0 && f[0] != byte(n)) {
				t.Fatalf("frame of %d: got %d bytes", n, len(f))
			}
			if f == nil {
				t.Fatal("empty frame read as nil")
			}
			e, err := b.ReadError()
			if err != nil || string(e) != strings.Repeat("e", n%100) {
				t.Fatalf("error frame: %q %v", e, err)
			}
		}
		if f, err := b.ReadFrame(); err != io.EOF || f != nil {
			t.Fatalf("ReadFrame at end: %v %v", f, err)
		}
		if f, err := b.ReadError(); err != io.EOF || f != nil {
			t.Fatalf("ReadError at end: %v %v", f, err)
		}
		// b -> a: the byte stream, with io.Reader semantics.
		msg := []byte("hello, byte stream")
		if n, err := b.Write(msg); err != nil || n != len(msg) {
			t.Fatal(n, err)
		}
		b.CloseWrite()
		got, err := io.ReadAll(a)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("ReadAll: %q %v", got, err)
		}
		buf := make([]byte, 10)
		for i := 0; i < 2; i++ {
			if n, err := a.Read(buf); n != 0 || err != io.EOF {
				t.Fatalf("Read at end: %d %v", n, err)
			}
		}
		if n, err := a.Read(nil); n != 0 || err != nil {
			t.Fatalf("Read(nil): %d %v", n, err)
		}
		// After Close every call is an ErrClosed error.
		a.Close()
		if err := a.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		if _, err := a.Read(buf); !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
		if _, err := a.Write(buf); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
		if err := a.WriteFrame(buf); !errors.Is(err, ErrClosed) {
			t.Fatalf("WriteFrame after Close: %v", err)
		}
		if _, err := a.ReadFrame(); !errors.Is(err, ErrClosed) {
			t.Fatalf("ReadFrame after Close: %v", err)
		}
		if meta, ch := a.Accept(); meta != nil || ch != nil {
			t.Fatal("Accept after Close should be (nil, nil)")
		}
		// Metadata survives Close.
		if a.Service() != "frames" || len(a.Headers()) != 2 || a.RemotePeer() != name(server) || a.LocalPeer() != name(client) {
			t.Fatal("meta after close:", a.Service(), a.Headers(), a.LocalPeer(), a.RemotePeer())
		}
	})
}

func TestMaxFrameSize(t *testing.T) {
	// Options apply to connections made after they are set.
	server := newTestPeer(t, "")
	client := newTestPeer(t, "")
	if err := server.SetOption(OptMaxFrameSize, 1024); err != nil {
		t.Fatal(err)
	}
	connect(t, client, bind(t, server, "tcp://127.0.0.1:0"))
	a, b := openPair(t, server, client, "big", nil)
	defer a.Close()
	defer b.Close()
	if err := a.WriteFrame(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFrame(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if f, err := b.ReadFrame(); err != nil || len(f) != 1024 {
		t.Fatal(len(f), err)
	}
	if _, err := b.ReadFrame(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized frame: %v", err)
	}
}

func TestErrors(t *testing.T) {
	p := newTestPeer(t, "")
	err := p.Bind("bogus://nowhere")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bogus://nowhere") {
		t.Fatalf("bad endpoint: %v", err)
	}
	if err := p.Connect("tcp://127.0.0.1:notaport"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad endpoint: %v", err)
	}
	if _, err := p.Open("nobody", "svc", nil); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("open to unknown peer: %v", err)
	}
	if p.NextPeer() != "" {
		t.Fatal("NextPeer with no peers")
	}
	if err := p.Drop("nobody"); err == nil {
		t.Fatal("drop of unknown peer succeeded")
	}
	// Nothing listens there: Connect times out.
	p.SetOption(OptConnectTimeout, 300)
	ep := bind(t, newTestPeer(t, ""), "tcp://127.0.0.1:0")
	start := time.Now()
	err = p.Connect("unix:///nonexistent/streamkit-test.sock")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("connect to nothing: %v", err)
	}
	if time.Since(start) > 9*time.Second { // under the 10 s default: the option was used
		t.Fatal("connect timeout not honoured")
	}
	var e *Error
	if !errors.As(err, &e) || !e.Timeout() {
		t.Fatalf("timeout error: %#v", e)
	}
	// Shutdown twice: ErrClosed; every call after: ErrClosed.
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second shutdown: %v", err)
	}
	if err := p.Connect(ep); !errors.Is(err, ErrClosed) {
		t.Fatalf("connect after shutdown: %v", err)
	}
	if _, err := p.Open("x", "y", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("open after shutdown: %v", err)
	}
	if meta, ch := p.Accept(); meta != nil || ch != nil {
		t.Fatal("Accept after shutdown should be (nil, nil)")
	}
	if ps := p.Peers(); ps == nil || len(ps) != 0 {
		t.Fatalf("peers after shutdown: %#v", ps)
	}
}

func TestAuth(t *testing.T) {
	keyA, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(key string) *Peer {
		p := NewPeer()
		t.Cleanup(func() { p.Shutdown() })
		if err := p.SetOption(OptPrivateKey, key); err != nil {
			t.Fatal(err)
		}
		p.SetOption(OptConnectTimeout, 2000)
		p.SetOption(OptReconnectInterval, -1)
		return p
	}
	server, client := mk(keyA), mk(keyB)
	ep := bind(t, server, "tcp://127.0.0.1:0")
	// Neither trusts the other: an auth error, never a channel.
	if err := client.Connect(ep); !errors.Is(err, ErrAuth) {
		t.Fatalf("untrusted connect: %v", err)
	}
	if len(server.Peers()) != 0 || len(client.Peers()) != 0 {
		t.Fatal("untrusted peers connected")
	}
	// Mutual trust through each other's public key text.
	pubA, _ := server.PublicKey()
	pubB, _ := client.PublicKey()
	if err := server.SetOption(OptAuthorizedKeys, pubB); err != nil {
		t.Fatal(err)
	}
	// Only the server trusts the client: the client rejects the server.
	if err := client.Connect(ep); !errors.Is(err, ErrAuth) {
		t.Fatalf("client must reject an untrusted server: %v", err)
	}
	if err := client.SetOption(OptAuthorizedKeys, pubA+"\n"); err != nil {
		t.Fatal(err)
	}
	connect(t, client, ep)
	a, b := openPair(t, server, client, "auth", nil)
	a.WriteFrame([]byte("ok"))
	if f, err := b.ReadFrame(); err != nil || string(f) != "ok" {
		t.Fatal(f, err)
	}
	a.Close()
	b.Close()
}

func TestBlockingCallsAndShutdown(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	// One goroutine blocked in Accept serves channels that many goroutines
	// open concurrently.
	const n = 16
	acceptDone := make(chan int)
	go func() {
		count := 0
		for {
			meta, ch := server.Accept()
			if meta == nil {
				acceptDone <- count
				return
			}
			count++
			go func() {
				defer ch.Close()
				for {
					f, err := ch.ReadFrame()
					if err != nil {
						return
					}
					ch.WriteFrame(f)
				}
			}()
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ch, err := client.Open(name(server), "echo", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer ch.Close()
			for j := 0; j < 20; j++ {
				msg := []byte(strings.Repeat("x", i+j))
				if err := ch.WriteFrame(msg); err != nil {
					t.Error(err)
					return
				}
				f, err := ch.ReadFrame()
				if err != nil || !bytes.Equal(f, msg) {
					t.Error("echo:", err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	// Calls blocked on channels: a read on a channel of the client and a
	// child accept; Shutdown of the client unblocks both with ErrClosed.
	blocked, err := client.Open(name(server), "idle", nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	go func() { _, err := blocked.ReadFrame(); errs <- err }()
	go func() { _, err := blocked.Read(make([]byte, 10)); errs <- err }()
	go func() { _, _, err := blocked.(*Chan).AcceptTimeout(-1); errs <- err }()
	time.Sleep(100 * time.Millisecond)
	// Shutting the server down ends its Accept with (nil, nil).
	if err := server.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case count := <-acceptDone:
		if count != n+1 {
			t.Fatalf("accepted %d channels, want %d", count, n+1)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not unblock Accept")
	}
	if err := client.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("blocked call returned no error")
			}
			if !errors.Is(err, ErrClosed) && err != io.EOF {
				t.Fatalf("blocked call: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Shutdown did not unblock a channel call")
		}
	}
	blocked.Close()
}

func TestCloseUnblocksRead(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "idle", nil)
	defer b.Close()
	errs := make(chan error, 1)
	go func() { _, err := a.ReadFrame(); errs <- err }()
	time.Sleep(100 * time.Millisecond)
	a.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrClosed) && err != io.EOF {
			t.Fatalf("read unblocked with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not unblock ReadFrame")
	}
}

func TestTimeoutsAndContexts(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	if _, _, err := server.AcceptTimeout(50 * time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("AcceptTimeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, _, err := server.AcceptContext(ctx); err != context.Canceled {
		t.Fatalf("AcceptContext: %v", err)
	}
	if time.Since(start) > 30*time.Second { // liveness only
		t.Fatal("cancellation did not end AcceptContext")
	}
	a, b := openPair(t, server, client, "ctx", nil)
	defer a.Close()
	defer b.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := b.ReadFrameContext(ctx2); err != context.DeadlineExceeded {
		t.Fatalf("ReadFrameContext: %v", err)
	}
	if _, err := b.ReadFrameTimeout(20 * time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("ReadFrameTimeout: %v", err)
	}
	// A timed-out read consumed nothing.
	a.WriteFrame([]byte("late"))
	if f, err := b.ReadFrameContext(context.Background()); err != nil || string(f) != "late" {
		t.Fatal(f, err)
	}
	a.WriteError([]byte("oops"))
	if f, err := b.ReadErrorContext(context.Background()); err != nil || string(f) != "oops" {
		t.Fatal(f, err)
	}
}

// pipeRWC is an in-memory io.ReadWriteCloser with no CloseWrite and no
// file descriptor.
type pipeRWC struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *pipeRWC) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeRWC) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeRWC) Close() error {
	p.r.Close()
	return p.w.Close()
}

func TestJoinReadWriteCloser(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	// The far side of the in-memory stream upper-cases one request and
	// ends its output.
	toFar, fromJoin := io.Pipe()
	toJoin, fromFar := io.Pipe()
	rwc := &pipeRWC{r: toJoin, w: fromJoin}
	go func() {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(toFar, buf); err != nil {
			t.Error(err)
		}
		fromFar.Write(bytes.ToUpper(buf))
		fromFar.Close()
		io.Copy(io.Discard, toFar)
	}()
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		_, ch := server.Accept()
		if ch != nil {
			ch.Join(rwc)
		}
	}()
	ch, err := client.Open(name(server), "upper", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ch.Write([]byte("hello"))
	ch.CloseWrite()
	got, err := io.ReadAll(ch)
	if err != nil || string(got) != "HELLO" {
		t.Fatalf("got %q %v", got, err)
	}
	select {
	case <-joined:
	case <-time.After(30 * time.Second):
		t.Fatal("Join did not return")
	}
}

func TestInproc(t *testing.T) {
	server := newTestPeer(t, "")
	client := newTestPeer(t, "")
	ep := bind(t, server, "inproc://skgo-test")
	connect(t, client, ep)
	a, b := openPair(t, server, client, "inproc", []string{"x=y"})
	a.WriteFrame([]byte("hi"))
	if f, err := b.ReadFrame(); err != nil || string(f) != "hi" {
		t.Fatal(f, err)
	}
	a.Close()
	b.Close()
}

func TestConcurrentCloseAndShutdown(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "race", nil)
	defer b.Close()
	// Readers and writers on a, racing with concurrent Closes.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				if err := a.WriteFrame([]byte("x")); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error("write:", err)
					}
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := a.ReadFrame(); err != nil && !errors.Is(err, ErrClosed) && err != io.EOF {
				t.Error("read:", err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); a.Close() }()
	}
	wg.Wait()
	// Concurrent Shutdowns: exactly one succeeds.
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := client.Shutdown()
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, ErrClosed) {
				t.Error("shutdown:", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d Shutdowns succeeded", ok)
	}
}

func TestIOReaderContract(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "iotest", nil)
	defer a.Close()
	defer b.Close()
	content := bytes.Repeat([]byte("streamkit io.Reader contract "), 5000)
	go func() {
		a.Write(content)
		a.CloseWrite()
	}()
	// testing/iotest checks Read's contract (n, err combinations, EOF
	// repeated after the end, short reads of every size).
	if err := iotest.TestReader(b, content); err != nil {
		t.Fatal(err)
	}
}

// TestFrameSizesAroundReadBuffer reads frames whose sizes go above and below
// the Go buffer ReadFrame reads into (sized from the previous frame: a
// larger frame comes back through C memory, a much smaller one shrinks the
// buffer), every byte checked, with error frames of other sizes
// interleaved, an empty frame read as a non-nil empty slice, and byte reads
// of the same stream after the frames (nothing consumed ahead).
func TestFrameSizesAroundReadBuffer(t *testing.T) {
	server, client, _ := pair(t, transports[0])
	a, b := openPair(t, server, client, "sizes", nil)
	defer a.Close()
	defer b.Close()
	sizes := []int{64, 127, 128, 129, 0, 5000, 70000, 64, 1, 200000, 200000, 10, 65536, 0, 3}
	payload := func(n, salt int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + n + salt)
		}
		return p
	}
	tail := []byte("raw bytes after the frames")
	go func() {
		for i, n := range sizes {
			if err := a.WriteFrame(payload(n, 0)); err != nil {
				t.Error(err)
				return
			}
			if err := a.WriteError(payload(sizes[len(sizes)-1-i], 1)); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := a.Write(tail); err != nil {
			t.Error(err)
		}
		a.CloseWrite()
	}()
	for i, n := range sizes {
		f, err := b.ReadFrameTimeout(10 * time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f == nil || !bytes.Equal(f, payload(n, 0)) {
			t.Fatalf("frame %d (%d bytes): got %d bytes, wrong content or nil", i, n, len(f))
		}
		if cap(f) != len(f) {
			t.Fatalf("frame %d: cap %d != len %d", i, cap(f), len(f))
		}
		e, err := b.ReadErrorTimeout(10 * time.Second)
		if m := sizes[len(sizes)-1-i]; err != nil || e == nil || !bytes.Equal(e, payload(m, 1)) {
			t.Fatalf("error frame %d (%d bytes): %d bytes, %v", i, m, len(e), err)
		}
	}
	got, err := io.ReadAll(onlyReader{b})
	if err != nil || !bytes.Equal(got, tail) {
		t.Fatalf("bytes after the frames: %q %v", got, err)
	}
	if _, err := b.ReadFrameTimeout(0); err != io.EOF {
		t.Fatalf("ReadFrame at end: %v", err)
	}
}
