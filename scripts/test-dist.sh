#!/usr/bin/env bash
# Build dist/ (scripts/dist.sh), then use each artifact as a user would,
# outside the checkout and without a Rust toolchain on PATH:
#   - the wheel installs offline into a fresh venv and runs examples/hello.py;
#   - the C SDK tarball, unpacked elsewhere, builds examples/hello.c through
#     pkg-config (shared, found by rpath without LD_LIBRARY_PATH) and
#     statically (pkg-config --static);
#   - SHA256SUMS matches.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/dist.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nocargo="/usr/local/bin:/usr/bin:/bin"   # no ~/.cargo/bin: nothing may need Rust
fail=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then echo "dist $name: ok"; else echo "dist $name: FAILED"; fail=1; fi
}

(cd dist && sha256sum -c --quiet SHA256SUMS)
check checksums true

wheel=$(ls dist/*.whl)
echo "== wheel: $(basename "$wheel")"
case "$wheel" in
*abi3*manylinux*) ;;
*) if [ "${STREAMKIT_DIST_NATIVE:-0}" != 1 ]; then echo "not a portable abi3 manylinux wheel: $wheel"; fail=1; fi ;;
esac
python3 -m venv "$tmp/venv"
env PATH="$nocargo" "$tmp/venv/bin/python" -m pip install -q --no-index "$wheel"
cp examples/hello.py "$tmp/hello.py"
wheel_run() {
    local out
    out=$(cd "$tmp" && env -i PATH="$nocargo" HOME="$tmp" "$tmp/venv/bin/python" hello.py)
    echo "$out"
    grep -qF "b'echo: hello'" <<<"$out"
}
check "wheel installs and runs without Rust" wheel_run

echo "== C SDK"
tar -C "$tmp" -xzf dist/streamkit-sdk-*.tar.gz
sdk=$(ls -d "$tmp"/streamkit-sdk-*)
export PKG_CONFIG_PATH="$sdk/lib/pkgconfig"
sdk_shared() {
    # shellcheck disable=SC2046
    cc -O2 -o "$tmp/hello-shared" examples/hello.c $(pkg-config --cflags --libs streamkit)
    readelf -d "$tmp/hello-shared" | grep -q 'NEEDED.*libstreamkit\.so' || { echo "not linked to libstreamkit.so"; return 1; }
    env -u LD_LIBRARY_PATH PATH="$nocargo" "$tmp/hello-shared" | grep -q "client got: hello"
}
sdk_static() {
    # shellcheck disable=SC2046
    cc -O2 -o "$tmp/hello-static" examples/hello.c $(pkg-config --cflags streamkit) "$sdk/lib/libstreamkit.a" \
        $(pkg-config --static --libs-only-l streamkit | sed 's/-lstreamkit//')
    ! readelf -d "$tmp/hello-static" | grep -q 'NEEDED.*libstreamkit' || { echo "static build needs libstreamkit.so"; return 1; }
    env PATH="$nocargo" "$tmp/hello-static" | grep -q "client got: hello"
}
version_macros() {
    local v
    v=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
    [ "$(pkg-config --modversion streamkit)" = "$v" ] || { echo "streamkit.pc says $(pkg-config --modversion streamkit), Cargo.toml $v"; return 1; }
}
check "C SDK: shared via pkg-config, rpath" sdk_shared
check "C SDK: static via pkg-config --static" sdk_static
check "C SDK: pkg-config version = Cargo.toml" version_macros

echo
ls -l dist | awk 'NR > 1 { printf "%10.1f MB  %s\n", $5 / 1e6, $9 }'
if [ $fail -eq 0 ]; then echo "dist: all checks passed"; else echo "dist: FAILED"; fi
exit $fail
