//go:build cgo

package streamkit

import (
	"io"
	"sync"
)

// halfStream is the subset of a channel that join needs.
type halfStream interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Join splices the channel with rwc until both directions have ended, then
// closes both. It works with any io.ReadWriteCloser: a net.Conn, a pipe,
// an in-memory stream.
//
// Two goroutines copy channel→rwc and rwc→channel. When rwc reaches EOF
// the channel is closed for writing (the other side reads EOF). When the
// channel reaches EOF, rwc is closed for writing if it has a
// CloseWrite() error method (as *net.TCPConn and *net.UnixConn do);
// otherwise Join keeps rwc open until its own reading side ends, because a
// plain io.ReadWriteCloser cannot be half-closed. An error in either
// direction closes both ends at once.
func (c *Chan) Join(rwc io.ReadWriteCloser) {
	join(c, rwc)
}

func join(ch halfStream, rwc io.ReadWriteCloser) {
	var wg sync.WaitGroup
	var once sync.Once
	abort := func() {
		once.Do(func() {
			_ = ch.Close()
			_ = rwc.Close()
		})
	}
	wg.Add(2)
	go func() { // channel -> rwc
		defer wg.Done()
		if _, err := io.CopyBuffer(rwc, onlyReader{ch}, make([]byte, 64<<10)); err != nil {
			abort()
			return
		}
		if cw, ok := rwc.(interface{ CloseWrite() error }); ok {
			if err := cw.CloseWrite(); err != nil {
				abort()
			}
		}
	}()
	go func() { // rwc -> channel
		defer wg.Done()
		if _, err := io.CopyBuffer(onlyWriter{ch}, onlyReader{rwc}, make([]byte, 64<<10)); err != nil {
			abort()
			return
		}
		if err := ch.CloseWrite(); err != nil {
			abort()
		}
	}()
	wg.Wait()
	abort()
}

// onlyReader and onlyWriter hide optional interfaces (WriterTo,
// ReaderFrom) so that io.Copy uses plain Read/Write with its own buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
