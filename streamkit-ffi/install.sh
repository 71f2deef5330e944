#!/usr/bin/env bash
# Build and install the streamkit C library, header and pkg-config file.
#
#   streamkit-ffi/install.sh [PREFIX]      default PREFIX: /usr/local
#
# Installs PREFIX/include/streamkit.h, PREFIX/lib/libstreamkit.so.VERSION (with
# its soname and libstreamkit.so as symlinks), PREFIX/lib/libstreamkit.a and
# PREFIX/lib/pkgconfig/streamkit.pc, so that a program builds with
#   cc app.c $(pkg-config --cflags --libs streamkit)
# (set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a non-standard PREFIX, and
# LD_LIBRARY_PATH or -Wl,-rpath,PREFIX/lib if PREFIX/lib is not a system
# library directory). Static linking:
#   cc app.c $(pkg-config --cflags streamkit) PREFIX/lib/libstreamkit.a \
#      $(pkg-config --static --libs-only-l streamkit | sed 's/-lstreamkit//')
#
# Environment: DESTDIR (staging root), SK_NO_BUILD=1 (reuse an existing
# release build), CARGO_TARGET_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
prefix="${1:-${PREFIX:-/usr/local}}"
dest="${DESTDIR:-}"
target="${CARGO_TARGET_DIR:-$root/target}/release"

if [ "${SK_NO_BUILD:-0}" != 1 ]; then
    (cd "$root" && cargo build --release -p streamkit-ffi)
fi
for f in libstreamkit.so libstreamkit.a; do
    [ -f "$target/$f" ] || { echo "install.sh: $target/$f missing (build first)" >&2; exit 1; }
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
# System libraries the static library needs (rustc --print native-static-libs on Linux).
libs_private="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

install -d "$dest$prefix/include" "$dest$prefix/lib/pkgconfig"
install -m 644 "$root/include/streamkit.h" "$dest$prefix/include/streamkit.h"
# libstreamkit.so.X.Y.Z, with the soname (libstreamkit.so.0.1 for 0.1.x) and
# the development name (libstreamkit.so) as symlinks, as distributions do.
soname="$(readelf -d "$target/libstreamkit.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ -n "$soname" ] || { echo "install.sh: $target/libstreamkit.so has no soname" >&2; exit 1; }
install -m 755 "$target/libstreamkit.so" "$dest$prefix/lib/libstreamkit.so.$version"
ln -sfn "libstreamkit.so.$version" "$dest$prefix/lib/$soname"
ln -sfn "$soname" "$dest$prefix/lib/libstreamkit.so"
install -m 644 "$target/libstreamkit.a" "$dest$prefix/lib/libstreamkit.a"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@LIBS_PRIVATE@|$libs_private|g" \
    "$here/streamkit.pc.in" > "$dest$prefix/lib/pkgconfig/streamkit.pc"
echo "installed streamkit $version into $dest$prefix"
# Say exactly what this prefix needs, if anything.
if ! pkg-config --variable pc_path pkg-config 2>/dev/null | tr ':' '\n' | grep -qx "$prefix/lib/pkgconfig"; then
    echo "pkg-config does not search $prefix/lib/pkgconfig: export PKG_CONFIG_PATH=$prefix/lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
fi
case "$prefix/lib" in
/usr/lib | /usr/lib64 | /lib | /lib64 | /usr/lib/*-linux-gnu) ;;
*)
    if ! { ldconfig -p 2>/dev/null | grep -q "$prefix/lib/libstreamkit.so"; }; then
        echo "the dynamic loader does not search $prefix/lib: link with -Wl,-rpath,$prefix/lib" \
            "(or export LD_LIBRARY_PATH=$prefix/lib, or run ldconfig if $prefix/lib is in /etc/ld.so.conf.d)"
    fi
    ;;
esac
