// Command bench is scenario 7 of streamkit-bench through the Go package
// (cgo over the C ABI): the same measurements as bench/c/bench.c.
//
//	bench bulk BYTES     one channel, BYTES in 64 KiB Write calls, read with
//	                     Read into a 256 KiB buffer
//	bench frames SECS    64-byte frames one way for SECS seconds
//	                     (WriteFrame in one goroutine, ReadFrame in another)
//	bench rtt WARM N     64-byte frame echo, N timed round trips after WARM
//
// One process, two peers ("server" bound on tcp://127.0.0.1:0 and "client"
// connected to it, each with its own fresh key, trusting each other), one
// channel between them. Every byte and frame is verified as in
// bench/src/util.rs (same pattern, same frames). Prints one line
// "RESULT metric value ..." on stdout; on failure "ERROR ..." on stderr and
// exit status 1.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	streamkit "github.com/streamkit/streamkit/bindings/go"
)

const (
	period   = 999983
	maxSlice = 1 << 20
	write    = 64 << 10
	readBuf  = 256 << 10
	frameLen = 64
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ERROR "+format+"\n", a...)
	os.Exit(1)
}

func pattern() []byte {
	p := make([]byte, period+maxSlice)
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; i < period; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 24)
	}
	for i := 0; i < maxSlice; i++ {
		p[period+i] = p[i]
	}
	return p
}

// Frame seq is seq (8 bytes, little-endian), then byte i (8 <= i < 64) is
// byte(seq)*31 + i, as frame() in bench/src/util.rs. Go does not vectorize
// the byte loop that LLVM vectorizes there, so both functions work on
// 8-byte words (SWAR): the byte loop and a 64-byte compare cost the Go
// program about 10 % of its CPU (perf), several times the Rust harness's
// share, and that is not the binding's cost.

// frameWord is bytes 8+8k .. 15+8k of frame seq (little-endian).
func frameWord(seq uint64, k int) uint64 {
	const lo7, hi = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	b := uint64(byte(seq)*31) * 0x0101010101010101
	// bytes 8+8k+j, j = 0..7 (no byte overflows: at most 63)
	r := uint64(0x0706050403020100) + uint64(8+8*k)*0x0101010101010101
	return ((b & lo7) + (r & lo7)) ^ ((b ^ r) & hi) // bytewise b + r, mod 256
}

func makeFrame(seq uint64, f []byte) {
	f = f[:frameLen]
	binary.LittleEndian.PutUint64(f, seq)
	for k := 0; k < frameLen/8-1; k++ {
		binary.LittleEndian.PutUint64(f[8+8*k:], frameWord(seq, k))
	}
}

func frameOK(got []byte, seq uint64) bool {
	ok := len(got) == frameLen && binary.LittleEndian.Uint64(got) == seq
	for k := 0; ok && k < frameLen/8-1; k++ {
		ok = binary.LittleEndian.Uint64(got[8+8*k:]) == frameWord(seq, k)
	}
	return ok
}

func checkFrame(got []byte, seq uint64, who string) {
	if !frameOK(got, seq) {
		die("%s: frame %d wrong (%d bytes)", who, seq, len(got))
	}
}

func cpuSeconds() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func peer(name string) *streamkit.Peer {
	key, err := streamkit.GenerateKey()
	if err != nil {
		die("key: %v", err)
	}
	p := streamkit.NewPeer()
	p.SetOption(streamkit.OptName, name)
	p.SetOption(streamkit.OptPrivateKey, key)
	return p
}

// setup returns the client end (a) and the server end (b) of one channel.
func setup() (server, client *streamkit.Peer, a, b *streamkit.Chan) {
	server, client = peer("server"), peer("client")
	k1, err1 := server.PublicKey()
	k2, err2 := client.PublicKey()
	if err1 != nil || err2 != nil {
		die("public key: %v %v", err1, err2)
	}
	keys := k1 + "\n" + k2 + "\n"
	server.SetOption(streamkit.OptAuthorizedKeys, keys)
	client.SetOption(streamkit.OptAuthorizedKeys, keys)
	addr, err := server.BindAddr("tcp://127.0.0.1:0")
	if err != nil {
		die("bind: %v", err)
	}
	if err := client.Connect(addr); err != nil {
		die("connect: %v", err)
	}
	ch, err := client.Open("server", "bench", nil)
	if err != nil {
		die("open: %v", err)
	}
	_, bch, err := server.AcceptTimeout(10 * time.Second)
	if err != nil {
		die("accept: %v", err)
	}
	return server, client, ch.(*streamkit.Chan), bch.(*streamkit.Chan)
}

func bulk(a, b *streamkit.Chan, total int64) {
	pat := pattern()
	errc := make(chan error, 1)
	c0, t0 := cpuSeconds(), time.Now()
	go func() {
		for off := int64(0); off < total; {
			n := min(total-off, write)
			s := off % period
			if _, err := a.Write(pat[s : s+n]); err != nil {
				errc <- err
				return
			}
			off += n
		}
		errc <- a.CloseWrite()
	}()
	buf := make([]byte, readBuf)
	var off int64
	for {
		n, err := b.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			die("read: %v", err)
		}
		s := off % period
		if !bytes.Equal(buf[:n], pat[s:s+int64(n)]) {
			die("byte stream corrupted near offset %d", off)
		}
		off += int64(n)
	}
	dt, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
	if err := <-errc; err != nil {
		die("write: %v", err)
	}
	if off != total {
		die("received %d bytes, sent %d", off, total)
	}
	fmt.Printf("RESULT MB/s %.1f CPU_s %.3f\n", float64(total)/dt/1e6, cpu)
}

func frames(a, b *streamkit.Chan, secs float64) {
	t0 := time.Now()
	deadline := t0.Add(time.Duration(secs * float64(time.Second)))
	sent := make(chan uint64, 1)
	go func() {
		var seq uint64
		f := make([]byte, frameLen)
		for {
			for i := 0; i < 256; i++ {
				makeFrame(seq, f)
				if err := a.WriteFrame(f); err != nil {
					die("write_frame: %v", err)
				}
				seq++
			}
			if !time.Now().Before(deadline) {
				break
			}
		}
		if err := a.CloseWrite(); err != nil {
			die("close_write: %v", err)
		}
		sent <- seq
	}()
	var n uint64
	for {
		f, err := b.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			die("read_frame: %v", err)
		}
		checkFrame(f, n, "frames")
		n++
	}
	dt := time.Since(t0).Seconds()
	if s := <-sent; s != n {
		die("received %d frames, sent %d", n, s)
	}
	fmt.Printf("RESULT frames/s %.0f\n", float64(n)/dt)
}

// quantile as in bench/src/util.rs (nearest rank).
func quantile(v []float64, q float64) float64 {
	i := int(q * float64(len(v)))
	if float64(i) < q*float64(len(v)) {
		i++
	}
	i = max(1, min(i, len(v)))
	return v[i-1]
}

func rtt(a, b *streamkit.Chan, warm, n int) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, err := b.ReadFrame()
			if err == io.EOF {
				return
			}
			if err != nil {
				die("echo read: %v", err)
			}
			if err := b.WriteFrame(f); err != nil {
				die("echo write: %v", err)
			}
		}
	}()
	lat := make([]float64, 0, n)
	f := make([]byte, frameLen)
	for i := 0; i < warm+n; i++ {
		makeFrame(uint64(i), f)
		t := time.Now()
		if err := a.WriteFrame(f); err != nil {
			die("write_frame: %v", err)
		}
		g, err := a.ReadFrame()
		if err != nil {
			die("read_frame: %v", err)
		}
		us := float64(time.Since(t).Nanoseconds()) / 1e3
		checkFrame(g, uint64(i), "echo")
		if i >= warm {
			lat = append(lat, us)
		}
	}
	if err := a.CloseWrite(); err != nil {
		die("close_write: %v", err)
	}
	<-done
	sort.Float64s(lat)
	fmt.Printf("RESULT p50_us %.1f p99_us %.1f\n", quantile(lat, 0.5), quantile(lat, 0.99))
}

func main() {
	usage := func() {
		fmt.Fprintf(os.Stderr, "usage: %s bulk BYTES | frames SECS | rtt WARM N\n", os.Args[0])
		os.Exit(2)
	}
	if len(os.Args) < 3 {
		usage()
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			usage()
		}
		return v
	}
	server, client, a, b := setup()
	switch {
	case os.Args[1] == "bulk":
		bulk(a, b, int64(num(os.Args[2])))
	case os.Args[1] == "frames":
		frames(a, b, num(os.Args[2]))
	case os.Args[1] == "rtt" && len(os.Args) >= 4:
		rtt(a, b, int(num(os.Args[2])), int(num(os.Args[3])))
	default:
		usage()
	}
	a.Close()
	b.Close()
	client.Shutdown()
	server.Shutdown()
}
