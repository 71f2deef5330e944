#!/usr/bin/env bash
# Regenerate include/streamkit.h from streamkit-ffi with a pinned cbindgen.
#
#   streamkit-ffi/gen_header.sh            write include/streamkit.h
#   streamkit-ffi/gen_header.sh --verify   fail (exit 1) if the committed
#                                          header differs from fresh output
#
# cbindgen is taken from $CBINDGEN if set, else installed once (pinned,
# --locked) into streamkit-ffi/.tools (git-ignored).
set -euo pipefail

CBINDGEN_VERSION=0.29.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
header="$root/include/streamkit.h"

cbindgen="${CBINDGEN:-$here/.tools/bin/cbindgen}"
if ! [ -x "$cbindgen" ] || ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    if [ -n "${CBINDGEN:-}" ]; then
        echo "gen_header.sh: \$CBINDGEN=$CBINDGEN is not cbindgen $CBINDGEN_VERSION" >&2
        exit 2
    fi
    echo "gen_header.sh: installing cbindgen $CBINDGEN_VERSION into $here/.tools" >&2
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root "$here/.tools" >&2
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
# cbindgen warns that SkOptionValue (deliberately excluded) is not found: hide that line only.
"$cbindgen" --quiet --config "$here/cbindgen.toml" --crate streamkit-ffi --output "$tmp" "$here" \
    2> >(grep -v "Can't find SkOptionValue" >&2)

if [ "${1:-}" = "--verify" ]; then
    if ! diff -u "$header" "$tmp"; then
        echo "gen_header.sh: include/streamkit.h is stale: run streamkit-ffi/gen_header.sh and commit it" >&2
        exit 1
    fi
    echo "include/streamkit.h is up to date"
else
    mkdir -p "$(dirname "$header")"
    cp "$tmp" "$header"
    echo "wrote $header"
fi
