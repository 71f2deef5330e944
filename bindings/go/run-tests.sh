#!/usr/bin/env bash
# Build the Rust C library, then check and test the Go package:
# gofmt, go vet, go test (also of bench/go), go test -race, a GOGC=1 run, a cgocheck2 run,
# the !cgo stub, and a smoke test of
# the streamkit_dynamic (pkg-config) link mode. Exits non-zero on any
# failure.
#
# Usage: bindings/go/run-tests.sh          (from anywhere)
# Env:   SKIP_CARGO_BUILD=1   the library is already built
#        GO_TEST_FLAGS="..."  extra flags for go test (e.g. -v)
#        CHECK_NATIVE_LIBS=1  also check link.go against cargo's native-static-libs
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${SKIP_CARGO_BUILD:-}" != 1 ]; then
	echo "== cargo build --release -p streamkit-ffi"
	(cd "$ROOT" && cargo build --release -p streamkit-ffi)
fi
test -f "$ROOT/target/release/libstreamkit.a" || { echo "missing target/release/libstreamkit.a"; exit 1; }
test -f "$ROOT/include/streamkit.h" || { echo "missing include/streamkit.h"; exit 1; }

cd "$HERE"
export CGO_ENABLED=1
FLAGS=${GO_TEST_FLAGS:-}

echo "== gofmt"
unformatted=$(gofmt -l . "$ROOT/tests/interop/goapp" "$ROOT/bench/go")
if [ -n "$unformatted" ]; then
	echo "not gofmt'ed: $unformatted"
	exit 1
fi

echo "== go vet"
go vet ./...
(cd "$ROOT/tests/interop/goapp" && go vet ./...)
(cd "$ROOT/bench/go" && go vet ./...)

echo "== go test"
go test -count=1 $FLAGS ./...
(cd "$ROOT/bench/go" && go test -count=1 $FLAGS ./...) # streamkit-bench's Go program (frame generation)

echo "== go test -race"
go test -count=1 -race $FLAGS ./...

echo "== GC stress (GOGC=1: exposes a missing runtime.KeepAlive or a premature cleanup)"
GOGC=1 go test -count=1 $FLAGS ./...

echo "== GOEXPERIMENT=cgocheck2 (strict checks of Go pointers passed to C)"
GOEXPERIMENT=cgocheck2 go test -count=1 $FLAGS ./...

echo "== static link check (no libstreamkit.so needed at run time)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/streamkit.test" .
needed=$(readelf -d "$tmp/streamkit.test" | grep NEEDED || true)
if grep -q libstreamkit <<<"$needed"; then
	echo "test binary links libstreamkit.so dynamically"
	exit 1
fi
(cd "$tmp" && env -u LD_LIBRARY_PATH ./streamkit.test -test.run 'TestVersionAndKeys|TestOpenChannels' >/dev/null)

echo "== CGO_ENABLED=0: stub builds and reports ErrNoCgo"
CGO_ENABLED=0 go vet ./...
CGO_ENABLED=0 go test -count=1 ./...

echo "== -tags streamkit_dynamic (pkg-config, libstreamkit.so)"
mkdir -p "$tmp/pc"
cat >"$tmp/pc/streamkit.pc" <<PC
libdir=$ROOT/target/release
includedir=$ROOT/include

Name: streamkit
Description: secure multiplexed channels over SSH
Version: 0.1.0
Libs: -L\${libdir} -lstreamkit
Cflags: -I\${includedir}
PC
PKG_CONFIG_PATH="$tmp/pc" LD_LIBRARY_PATH="$ROOT/target/release" \
	go test -count=1 -tags streamkit_dynamic -run 'TestVersionAndKeys|TestOpenChannels|TestFramesAndStreams' .
PKG_CONFIG_PATH="$tmp/pc" go test -c -tags streamkit_dynamic -o "$tmp/dyn.test" .
needed=$(readelf -d "$tmp/dyn.test" | grep NEEDED || true)
grep -q 'libstreamkit\.so' <<<"$needed" || { echo "dynamic build does not use libstreamkit.so"; exit 1; }

if [ "${CHECK_NATIVE_LIBS:-}" = 1 ]; then
	# Rebuilds the ffi crate once with --print; off by default.
	echo "== native-static-libs match link.go"
	libs=$(cd "$ROOT" && cargo rustc --release -p streamkit-ffi --lib -- --print native-static-libs 2>&1 |
		sed -n 's/.*native-static-libs: //p' | tail -1)
	grep -qF -- "libstreamkit.a $libs" "$HERE/link.go" || { echo "link.go LDFLAGS do not end with: $libs"; exit 1; }
fi

echo "== all Go checks passed"
