//go:build cgo && streamkit_dynamic

package streamkit

// Dynamic link mode (go build -tags streamkit_dynamic): compiler and linker
// flags come from `pkg-config streamkit`, i.e. a streamkit.pc on
// PKG_CONFIG_PATH describing an installed libstreamkit and streamkit.h.
// Without pkg-config, set CGO_CFLAGS=-I<include dir> and
// CGO_LDFLAGS="-L<lib dir> -lstreamkit" and build with this tag; remove the
// pkg-config line below in a vendored copy if needed.

/*
#cgo pkg-config: streamkit
*/
import "C"
