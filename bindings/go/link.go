//go:build cgo && streamkit_checkout

package streamkit

// Checkout link mode (go build -tags streamkit_checkout): the static library
// built in this checkout by
//
//	cargo build --release -p streamkit-ffi
//
// (run from the repository root). The archive is named by path so that the
// linker cannot pick libstreamkit.so from the same directory, and programs
// need no LD_LIBRARY_PATH. The system libraries after it are those printed
// by `cargo rustc --release -p streamkit-ffi -- --print native-static-libs`.
// Without the tag the package uses an installed C SDK (link_pkgconfig.go).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libstreamkit.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
