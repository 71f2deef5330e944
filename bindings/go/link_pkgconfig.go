//go:build cgo && !streamkit_checkout

package streamkit

// Default link mode: an installed C SDK, found through `pkg-config
// streamkit` (streamkit-ffi/install.sh PREFIX installs one; set
// PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a PREFIX pkg-config does not
// search). Its streamkit.pc carries an rpath, so programs run without
// LD_LIBRARY_PATH. Without pkg-config, set PKG_CONFIG=true,
// CGO_CFLAGS=-I<include dir> and CGO_LDFLAGS="-L<lib dir> -lstreamkit".
// Inside this repository, -tags streamkit_checkout links the checkout's
// static library instead (link.go).

/*
#cgo pkg-config: streamkit
*/
import "C"
