//go:build cgo

package streamkit

/*
#include "shim.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// codeOf maps a C sk_result to a Code, by name rather than by number.
func codeOf(r C.int) Code {
	switch r {
	case C.SK_OK:
		return CodeOK
	case C.SK_ERR_INVALID:
		return CodeInvalid
	case C.SK_ERR_CLOSED:
		return CodeClosed
	case C.SK_ERR_TIMEOUT:
		return CodeTimeout
	case C.SK_ERR_NO_PEER:
		return CodeNoPeer
	case C.SK_ERR_IO:
		return CodeIO
	case C.SK_ERR_AUTH:
		return CodeAuth
	case C.SK_ERR_PROTOCOL:
		return CodeProtocol
	case C.SK_ERR_EOF:
		return CodeEOF
	default:
		return CodeInternal
	}
}

// cError turns a failed result and its copied message into an *Error and
// frees the message. It returns nil for SK_OK.
func cError(r C.int, msg *C.char) error {
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
	}
	if r == C.SK_OK {
		return nil
	}
	code := codeOf(r)
	m := ""
	if msg != nil {
		m = C.GoString(msg)
	}
	if m == "" {
		m = code.String()
	}
	return newError(code, m)
}

// takeString copies and frees a library-owned string.
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	g := C.GoString(s)
	C.skgo_string_free(s)
	return g
}

// takeStrlist copies and frees a library-owned string list.
func takeStrlist(l *C.sk_strlist) []string {
	out := make([]string, 0, int(l.len))
	if l.len > 0 && l.items != nil {
		items := unsafe.Slice(l.items, int(l.len))
		for _, it := range items {
			out = append(out, C.GoString(it))
		}
	}
	C.skgo_strlist_free(l)
	return out
}

// takeBuf copies and frees a library-owned buffer. A successful read of an
// empty frame returns an empty, non-nil slice.
func takeBuf(b *C.sk_buf) []byte {
	var out []byte
	if b.len > 0 && b.data != nil {
		out = C.GoBytes(unsafe.Pointer(b.data), C.int(b.len))
	} else {
		out = []byte{}
	}
	C.skgo_buf_free(b)
	return out
}

// cStrings is a C array of C strings, for headers and trailers.
type cStrings struct {
	arr **C.char
	n   int
}

func newCStrings(ss []string) cStrings {
	if len(ss) == 0 {
		return cStrings{}
	}
	arr := (**C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(arr, len(ss))
	for i, s := range ss {
		items[i] = C.CString(s)
	}
	return cStrings{arr: arr, n: len(ss)}
}

func (c cStrings) free() {
	if c.arr == nil {
		return
	}
	for _, p := range unsafe.Slice(c.arr, c.n) {
		C.free(unsafe.Pointer(p))
	}
	C.free(unsafe.Pointer(c.arr))
}

// timeoutMs converts a Go timeout to the library's: negative waits forever.
func timeoutMs(d time.Duration) C.int64_t {
	if d < 0 {
		return -1
	}
	ms := d.Milliseconds()
	if ms == 0 && d > 0 {
		ms = 1
	}
	return C.int64_t(ms)
}

// GenerateKey returns a new ed25519 private key as OpenSSH text, suitable
// for OptPrivateKey.
func GenerateKey() (string, error) {
	var out, msg *C.char
	r := C.skgo_generate_key(&out, &msg)
	if err := cError(r, msg); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Version returns the version of the streamkit C library.
func Version() string {
	return C.GoString(C.skgo_version())
}

// LiveHandles returns the number of peer and channel handles alive in the C
// library (created and not yet freed), in this process. It is meant for
// leak tests: after every Peer is shut down and every channel closed it
// drops back to where it started.
func LiveHandles() int {
	return int(C.skgo_live_handles())
}
