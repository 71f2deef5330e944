#!/usr/bin/env bash
# Cross-language test: a Go peer (goapp/) and a Python peer (peer.py), in
# two processes, exchange frames, error frames and trailers over tcp, in
# both directions (each side binds once and connects once, opens once and
# accepts once). A Go<->Go leg runs first as a check of the harness itself.
#
# Usage: tests/interop/run.sh        (from anywhere)
# Env:   STREAMKIT_PYTHON=/path/to/python   a Python with `streamkit` installed
#        STREAMKIT_PYVENV=DIR               the venv of bindings/python/run-tests.sh
#                                           (default build/pyvenv-test)
#        SKIP_CARGO_BUILD=1                 the Rust library is already built
# Exit status: 0 if every leg passed; 1 if a leg failed; 2 if the Python
# side could not be run (no Python with the streamkit package).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tests/interop"
cd "$ROOT"

if [ "${SKIP_CARGO_BUILD:-}" != 1 ]; then
	echo "== cargo build --release -p streamkit-ffi"
	cargo build --release -p streamkit-ffi
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== go build tests/interop/goapp"
(cd "$HERE/goapp" && go build -tags streamkit_checkout -o "$WORK/goapp" .)
GOAPP="$WORK/goapp"

"$GOAPP" keygen >"$WORK/go.key"
"$GOAPP" keygen >"$WORK/py.key"
"$GOAPP" pubkey "$WORK/go.key" >"$WORK/go.pub"
"$GOAPP" pubkey "$WORK/py.key" >"$WORK/py.pub"

failed=0
passed=0

# run_leg NAME BINDER_CMD... -- CONNECTOR_CMD...
# Each command gets --endpoint-file appended by the caller.
run_leg() {
	local name=$1
	shift
	local binder=() connector=()
	while [ "$1" != "--" ]; do binder+=("$1"); shift; done
	shift
	connector=("$@")
	rm -f "$WORK/endpoint"
	echo "== $name"
	timeout 120 "${binder[@]}" >"$WORK/binder.log" 2>&1 &
	local bpid=$!
	local crc=0 brc=0
	timeout 120 "${connector[@]}" >"$WORK/connector.log" 2>&1 || crc=$?
	wait "$bpid" || brc=$?
	if [ "$brc" = 0 ] && [ "$crc" = 0 ]; then
		echo "   ok"
		passed=$((passed + 1))
	else
		echo "   FAILED (binder exit $brc, connector exit $crc)"
		echo "   --- binder log:"; sed 's/^/   | /' "$WORK/binder.log"
		echo "   --- connector log:"; sed 's/^/   | /' "$WORK/connector.log"
		failed=$((failed + 1))
	fi
}

EP="--endpoint-file=$WORK/endpoint"
GO_A=("$GOAPP" run -key "$WORK/go.key" -authorized "$WORK/py.pub" -name go-a -remote go-b -remote-lang go "$EP")
GO_B=("$GOAPP" run -key "$WORK/py.key" -authorized "$WORK/go.pub" -name go-b -remote go-a -remote-lang go "$EP")
run_leg "go <-> go (harness check): go-a binds+accepts, go-b connects+opens" \
	"${GO_A[@]}" -bind tcp://127.0.0.1:0 -role accept -- "${GO_B[@]}" -connect -role open
run_leg "go <-> go (harness check): go-a binds+opens, go-b connects+accepts" \
	"${GO_A[@]}" -bind tcp://127.0.0.1:0 -role open -- "${GO_B[@]}" -connect -role accept

# Find a Python that has the streamkit package.
PY=${STREAMKIT_PYTHON:-}
if [ -z "$PY" ]; then
	for c in "${STREAMKIT_PYVENV:-$ROOT/build/pyvenv-test}/bin/python" "$ROOT/bindings/python/.venv/bin/python" \
		"$ROOT/.venv/bin/python" python3; do
		if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import streamkit' >/dev/null 2>&1; then
			PY=$c
			break
		fi
	done
fi
if [ -z "$PY" ] || ! "$PY" -c 'import streamkit' >/dev/null 2>&1; then
	echo "== Python side NOT RUN: no Python with the streamkit package found."
	echo "   Build it with bindings/python/run-tests.sh (creates build/pyvenv-test)"
	echo "   or set STREAMKIT_PYTHON=/path/to/python."
	echo "== interop: $passed passed, $failed failed, python legs not run"
	[ "$failed" = 0 ] && exit 2 || exit 1
fi
echo "== python: $PY ($("$PY" -c 'import streamkit; print(streamkit.__version__)'))"

GO=("$GOAPP" run -key "$WORK/go.key" -authorized "$WORK/py.pub" -name go-peer -remote py-peer -remote-lang py "$EP")
PYP=("$PY" "$HERE/peer.py" --key "$WORK/py.key" --authorized "$WORK/go.pub" --name py-peer --remote go-peer --remote-lang go "$EP")

run_leg "go binds+accepts, python connects+opens" \
	"${GO[@]}" -bind tcp://127.0.0.1:0 -role accept -- "${PYP[@]}" --connect --role open
run_leg "python binds+accepts, go connects+opens" \
	"${PYP[@]}" --bind tcp://127.0.0.1:0 --role accept -- "${GO[@]}" -connect -role open
run_leg "go binds+opens, python connects+accepts" \
	"${GO[@]}" -bind tcp://127.0.0.1:0 -role open -- "${PYP[@]}" --connect --role accept
run_leg "python binds+opens, go connects+accepts" \
	"${PYP[@]}" --bind tcp://127.0.0.1:0 --role open -- "${GO[@]}" -connect -role accept

echo "== interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
