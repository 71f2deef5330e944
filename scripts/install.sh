#!/usr/bin/env bash
# Install the C library system-wide: header, shared and static library, pkg-config file.
# Usage: cargo build --release -p streamkit-ffi && sudo ./scripts/install.sh [PREFIX]
# PREFIX defaults to $PREFIX or /usr/local. DESTDIR is honoured for packaging.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:-${PREFIX:-/usr/local}}
DEST=${DESTDIR:-}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
for f in target/release/libstreamkit.so target/release/libstreamkit.a include/streamkit.h; do
    [ -f "$f" ] || { echo "missing $f: run 'cargo build --release -p streamkit-ffi' first" >&2; exit 1; }
done
install -d "$DEST$PREFIX/include" "$DEST$PREFIX/lib/pkgconfig"
install -m 644 include/streamkit.h "$DEST$PREFIX/include/"
install -m 755 target/release/libstreamkit.so "$DEST$PREFIX/lib/"
install -m 644 target/release/libstreamkit.a "$DEST$PREFIX/lib/"
cat > "$DEST$PREFIX/lib/pkgconfig/streamkit.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: streamkit
Description: Secure multiplexed channels between programs, over SSH
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lstreamkit
Libs.private: -lpthread -ldl -lm
PC
echo "installed streamkit $VERSION under $DEST$PREFIX"
[ -z "$DEST" ] && command -v ldconfig >/dev/null && ldconfig 2>/dev/null || true
