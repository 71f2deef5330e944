//go:build cgo

package streamkit

/*
#include "shim.h"
*/
import "C"

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// ConnectConn runs the SSH client side of a streamkit connection over conn,
// an already-connected net.Conn (a TCP or Unix connection made elsewhere, one
// end of net.Pipe, a TLS connection, ...), and returns once both sides know
// each other's name. Trust, keepalive and channels work as over tcp://; with
// OptKnownHosts set, any plain line with the server's key matches, since a
// connection has no host name here.
//
// The peer owns conn from this call on and closes it when the connection
// ends (or at once if the call fails). A lost connection is not
// re-established: its channels fail with ErrClosed and the remote leaves
// Peers(). *net.TCPConn and *net.UnixConn are handed to the library
// directly; any other net.Conn is relayed through a socketpair by two
// goroutines.
func (p *Peer) ConnectConn(conn net.Conn) error {
	return p.connOp(conn, func(h C.uintptr_t, fd C.int, msg **C.char) C.int {
		return C.skgo_peer_connect_fd(h, fd, msg)
	})
}

// ServeConn runs the SSH server side of a connection over conn, as if Bind
// had accepted it (see ConnectConn), and returns once both sides know each
// other's name. The client's key must be in OptAuthorizedKeys; conn has no
// source address for streamkit, so a from= line never admits it.
func (p *Peer) ServeConn(conn net.Conn) error {
	return p.connOp(conn, func(h C.uintptr_t, fd C.int, msg **C.char) C.int {
		return C.skgo_peer_serve_fd(h, fd, msg)
	})
}

func (p *Peer) connOp(conn net.Conn, f func(C.uintptr_t, C.int, **C.char) C.int) error {
	if conn == nil {
		return &Error{Code: CodeInvalid, Msg: "conn is nil"}
	}
	fd, err := connFd(conn)
	if err != nil {
		conn.Close()
		return err
	}
	handed := false
	err = p.call(func(h C.uintptr_t) error {
		handed = true
		var msg *C.char
		r := f(h, C.int(fd), &msg)
		return cError(r, msg)
	})
	if !handed {
		// The peer was gone before the call: the library never owned fd.
		syscall.Close(fd)
	}
	return err
}

// connFd gives a descriptor for conn that the library may own: a duplicate
// of a TCP or Unix socket (conn itself is then closed), or one end of a
// socketpair relayed to conn.
func connFd(conn net.Conn) (int, error) {
	type filer interface{ File() (*os.File, error) }
	switch c := conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		f, err := c.(filer).File()
		if err != nil {
			return -1, &Error{Code: CodeIO, Msg: "cannot take the connection's descriptor: " + err.Error()}
		}
		// File() returned a duplicate; hand over another one that no
		// *os.File owns (its finalizer would close it), then release both.
		fd, err := syscall.Dup(int(f.Fd()))
		f.Close()
		conn.Close()
		if err != nil {
			return -1, &Error{Code: CodeIO, Msg: "cannot duplicate the connection's descriptor: " + err.Error()}
		}
		syscall.CloseOnExec(fd)
		return fd, nil
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, &Error{Code: CodeIO, Msg: "socketpair: " + err.Error()}
	}
	f := os.NewFile(uintptr(fds[1]), "streamkit-relay")
	local, err := net.FileConn(f)
	f.Close()
	if err != nil {
		syscall.Close(fds[0])
		return -1, &Error{Code: CodeIO, Msg: "socketpair: " + err.Error()}
	}
	go relay(local, conn)
	return fds[0], nil
}

// relay copies between the library's end of the socketpair and conn until
// both directions end, passing each end of stream on as a half-close where
// the connection supports one.
func relay(local, conn net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst net.Conn, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			// No half-close: ending one direction ends both.
			dst.Close()
			src.Close()
		}
	}
	go half(conn, local)
	go half(local, conn)
	wg.Wait()
	local.Close()
	conn.Close()
}
