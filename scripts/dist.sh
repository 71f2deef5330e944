#!/usr/bin/env bash
# Build every distributable into dist/:
#   streamkit-<version>-cp39-abi3-manylinux_2_17_x86_64.whl  portable wheel (no Rust needed to install)
#   streamkit-<version>.tar.gz                                Python sdist (builds with Rust)
#   streamkit-sdk-<version>-<arch>-linux.tar.gz              C SDK: include/, lib/libstreamkit.{a,so},
#                                                             lib/pkgconfig/streamkit.pc (relocatable)
#   SHA256SUMS
# Usage: scripts/dist.sh            (from anywhere; needs Rust and Python 3 with venv)
# Env:   STREAMKIT_DIST_VENV (tool venv, default build/dist-venv)
#        STREAMKIT_DIST_NATIVE=1  build the wheel for this machine's glibc
#                                 instead of cross-linking with zig
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dist="$root/dist"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(uname -m)
rm -rf "$dist"
mkdir -p "$dist"

venv=${STREAMKIT_DIST_VENV:-$root/build/dist-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
echo "== tools: maturin, ziglang, auditwheel (in $venv)"
"$venv/bin/python" -m pip install -q "maturin>=1.5,<2.0" "ziglang<0.14" auditwheel
export PATH="$venv/bin:$PATH"

echo "== C SDK"
cargo build --release -p streamkit-ffi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
sdk="streamkit-sdk-$version-$arch-linux"
rm -rf "$stage/$sdk"
DESTDIR="$stage" SK_NO_BUILD=1 bash streamkit-ffi/install.sh "/$sdk" >/dev/null
# Relocatable: the .pc finds everything relative to itself, wherever the
# tarball is unpacked (pkg-config and pkgconf both define pcfiledir).
sed -i 's|^prefix=.*|prefix=${pcfiledir}/../..|' "$stage/$sdk/lib/pkgconfig/streamkit.pc"
cp LICENSE-MIT LICENSE-APACHE "$stage/$sdk/"
cat >"$stage/$sdk/README" <<TXT
streamkit $version C SDK for $arch Linux.

    export PKG_CONFIG_PATH=\$PWD/lib/pkgconfig      # from this directory
    cc app.c \$(pkg-config --cflags --libs streamkit)              # shared, with an rpath
    cc app.c \$(pkg-config --cflags streamkit) lib/libstreamkit.a \\
       \$(pkg-config --static --libs-only-l streamkit | sed 's/-lstreamkit//')   # static

Go programs link it through pkg-config with plain go build.
TXT
tar -C "$stage" -czf "$dist/$sdk.tar.gz" "$sdk"

echo "== Python wheel and sdist"
wheel_args=(--release -m bindings/python/Cargo.toml -o "$dist")
if [ "${STREAMKIT_DIST_NATIVE:-0}" = 1 ]; then
    maturin build "${wheel_args[@]}"
else
    maturin build "${wheel_args[@]}" --zig --compatibility manylinux2014
fi
maturin sdist -m bindings/python/Cargo.toml -o "$dist"
for w in "$dist"/*.whl; do
    auditwheel show "$w"
done

(cd "$dist" && sha256sum -- * >SHA256SUMS)
echo "== dist/"
ls -l "$dist" | awk 'NR > 1 { printf "%10.1f MB  %s\n", $5 / 1e6, $9 }'
