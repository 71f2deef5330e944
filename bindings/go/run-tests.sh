#!/usr/bin/env bash
# Build the Rust C library, then check and test the Go package:
# gofmt, go vet, go test (also of bench/go), go test -race, a GOGC=1 run, a cgocheck2 run,
# the !cgo stub, and the default (pkg-config) link mode against an SDK
# installed by streamkit-ffi/install.sh, from a module outside the checkout.
# Exits non-zero on any failure. Inside the checkout the tests use
# -tags streamkit_checkout (the static library in target/release).
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
# Inside the checkout, link its static library (link.go); the default
# pkg-config mode is tested at the end against an installed SDK.
export GOFLAGS="-tags=streamkit_checkout"
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

echo "== default link mode: an installed SDK through pkg-config, from a module outside the checkout"
if ! command -v pkg-config >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && apt-get install -y -qq pkg-config >/dev/null
	else
		echo "pkg-config is missing: install it"; exit 1
	fi
fi
# A fixed prefix: go's build cache keeps the cgo flags pkg-config gave, and a
# path that changes every run would leave them pointing at a deleted one.
prefix="$ROOT/build/go-sdk"
rm -rf "$prefix"
SK_NO_BUILD=1 bash "$ROOT/streamkit-ffi/install.sh" "$prefix" >"$tmp/install.log"
grep -q "PKG_CONFIG_PATH=$prefix/lib/pkgconfig" "$tmp/install.log" ||
	{ echo "install.sh did not say which PKG_CONFIG_PATH to use:"; cat "$tmp/install.log"; exit 1; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# go's build cache does not see pkg-config's output; naming the prefix in
# CGO_CFLAGS (part of its key) keeps a build for another prefix from being reused.
export CGO_CFLAGS="-O2 -g -DSTREAMKIT_SDK_PREFIX_ID=$(cksum <<<"$prefix" | cut -d' ' -f1)"
GOFLAGS= go test -count=1 -run 'TestVersionAndKeys|TestOpenChannels|TestFramesAndStreams' .
# A program in its own module, as bindings/go/README.md tells users to write it
# (offline: a require plus a replace, no go get).
ext="$tmp/ext"
mkdir -p "$ext"
cp "$ROOT/examples/go/main.go" "$ext/main.go"
(
	cd "$ext"
	go mod init example.com/hello >/dev/null 2>&1
	go mod edit -require github.com/streamkit/streamkit/bindings/go@v0.0.0 \
		-replace github.com/streamkit/streamkit/bindings/go="$HERE"
	GOFLAGS= go build -o hello .
	needed=$(readelf -d hello | grep NEEDED || true)
	grep -q 'libstreamkit\.so' <<<"$needed" || { echo "the external program does not use the SDK's libstreamkit.so"; exit 1; }
	# no LD_LIBRARY_PATH: the SDK's rpath finds the library
	out=$(env -u LD_LIBRARY_PATH ./hello)
	grep -q "echo: hello" <<<"$out" || { echo "external program printed: $out"; exit 1; }
	echo "external module: built against $prefix and ran: $out"
)
unset PKG_CONFIG_PATH CGO_CFLAGS

if [ "${CHECK_NATIVE_LIBS:-}" = 1 ]; then
	# Rebuilds the ffi crate once with --print; off by default.
	echo "== native-static-libs match link.go"
	libs=$(cd "$ROOT" && cargo rustc --release -p streamkit-ffi --lib -- --print native-static-libs 2>&1 |
		sed -n 's/.*native-static-libs: //p' | tail -1)
	grep -qF -- "libstreamkit.a $libs" "$HERE/link.go" || { echo "link.go LDFLAGS do not end with: $libs"; exit 1; }
fi

echo "== all Go checks passed"
