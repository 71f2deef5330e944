package streamkit

import (
	"errors"
	"fmt"
)

// Code is a streamkit result code (the C sk_result values).
type Code int

// Result codes, in the order of the C enum sk_result.
const (
	CodeOK       Code = 0
	CodeInvalid  Code = 1
	CodeClosed   Code = 2
	CodeTimeout  Code = 3
	CodeNoPeer   Code = 4
	CodeIO       Code = 5
	CodeAuth     Code = 6
	CodeProtocol Code = 7
	CodeEOF      Code = 8
	CodeInternal Code = 9
)

var codeNames = map[Code]string{
	CodeOK:       "ok",
	CodeInvalid:  "invalid argument",
	CodeClosed:   "closed",
	CodeTimeout:  "timeout",
	CodeNoPeer:   "no peer",
	CodeIO:       "i/o error",
	CodeAuth:     "authentication failed",
	CodeProtocol: "protocol error",
	CodeEOF:      "end of stream",
	CodeInternal: "internal error",
}

// String returns a short description of the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is an error reported by the streamkit library: its result code and
// the library's message. Compare it with errors.Is against the Err* values.
type Error struct {
	Code Code
	Msg  string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Msg == "" {
		return "streamkit: " + e.Code.String()
	}
	return "streamkit: " + e.Msg
}

// Is reports whether target is the sentinel error for e's code, so that
// errors.Is(err, streamkit.ErrClosed) works for every closed error.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && target == error(s)
}

// Timeout reports whether the error is a timeout (as net.Error does).
func (e *Error) Timeout() bool { return e.Code == CodeTimeout }

// Sentinel errors, for use with errors.Is.
var (
	// ErrInvalid: a bad argument (unknown endpoint scheme, bad option
	// value, wrong Go type for an option, a freed handle, ...).
	ErrInvalid = &Error{Code: CodeInvalid, Msg: "invalid argument"}
	// ErrClosed: the peer was shut down or the channel was closed.
	ErrClosed = &Error{Code: CodeClosed, Msg: "closed"}
	// ErrTimeout: a connect, accept or read did not finish in time.
	ErrTimeout = &Error{Code: CodeTimeout, Msg: "timeout"}
	// ErrNoPeer: the named peer is not connected.
	ErrNoPeer = &Error{Code: CodeNoPeer, Msg: "no such peer"}
	// ErrIO: an operating-system or network error.
	ErrIO = &Error{Code: CodeIO, Msg: "i/o error"}
	// ErrAuth: the remote peer's key is not trusted, or it rejected ours.
	ErrAuth = &Error{Code: CodeAuth, Msg: "authentication failed"}
	// ErrProtocol: the remote side broke the protocol (for example a frame
	// larger than OptMaxFrameSize).
	ErrProtocol = &Error{Code: CodeProtocol, Msg: "protocol error"}
	// ErrInternal: a bug in the library.
	ErrInternal = &Error{Code: CodeInternal, Msg: "internal error"}
	// ErrNoCgo is returned by every call when the package was built
	// without cgo (CGO_ENABLED=0); streamkit needs cgo and the C library.
	ErrNoCgo = errors.New("streamkit: built without cgo: this package wraps the streamkit C library and needs CGO_ENABLED=1 and a C compiler (see bindings/go/README.md)")
)

var sentinels = map[Code]*Error{
	CodeInvalid:  ErrInvalid,
	CodeClosed:   ErrClosed,
	CodeTimeout:  ErrTimeout,
	CodeNoPeer:   ErrNoPeer,
	CodeIO:       ErrIO,
	CodeAuth:     ErrAuth,
	CodeProtocol: ErrProtocol,
	CodeInternal: ErrInternal,
}

func newError(code Code, msg string) *Error {
	return &Error{Code: code, Msg: msg}
}

func errInvalidf(format string, args ...interface{}) error {
	return newError(CodeInvalid, fmt.Sprintf(format, args...))
}
