//go:build cgo

package streamkit

import (
	"io"
	"testing"
	"time"
)

func benchPair(b *testing.B) (a, z *Chan) {
	b.Helper()
	server, client, _ := pair(b, transports[0]) // tcp loopback
	ch, err := client.Open(name(server), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	_, ach, err := server.AcceptTimeout(10 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ch.Close(); ach.Close() })
	return ch.(*Chan), ach.(*Chan)
}

// BenchmarkFrames64 streams 64-byte frames one way over tcp loopback and
// reports frames/s (counted when the receiver has read them all).
func BenchmarkFrames64(b *testing.B) {
	tx, rx := benchPair(b)
	frame := make([]byte, 64)
	done := make(chan int)
	go func() {
		n := 0
		for {
			if _, err := rx.ReadFrame(); err != nil {
				break
			}
			n++
		}
		done <- n
	}()
	b.SetBytes(64)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := tx.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
	tx.CloseWrite()
	got := <-done
	elapsed := time.Since(start)
	b.StopTimer()
	if got != b.N {
		b.Fatalf("received %d frames, sent %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
}

// BenchmarkFrames64RoundTrip measures request/response of 64-byte frames.
func BenchmarkFrames64RoundTrip(b *testing.B) {
	tx, rx := benchPair(b)
	go func() {
		for {
			f, err := rx.ReadFrame()
			if err != nil {
				return
			}
			if rx.WriteFrame(f) != nil {
				return
			}
		}
	}()
	frame := make([]byte, 64)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := tx.WriteFrame(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "roundtrips/s")
}

// BenchmarkBulk streams 64 KiB writes one way over tcp loopback; the MB/s
// column is the throughput (counted when the receiver has read it all).
func BenchmarkBulk(b *testing.B) {
	tx, rx := benchPair(b)
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	done := make(chan int64)
	go func() {
		n, _ := io.CopyBuffer(io.Discard, onlyReader{rx}, make([]byte, 256<<10))
		done <- n
	}()
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tx.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	tx.CloseWrite()
	got := <-done
	b.StopTimer()
	if got != int64(b.N)*chunk {
		b.Fatalf("received %d bytes, sent %d", got, int64(b.N)*chunk)
	}
}
