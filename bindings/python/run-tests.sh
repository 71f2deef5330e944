#!/usr/bin/env bash
# Build the streamkit Python package in a fresh virtualenv and test it:
#   mypy --strict (tests + bench against the shipped stubs, streamkit.aio's
#   included), mypy.stubtest
#   (stubs vs. the compiled module), python -X dev -m pytest -W error.
# Usage: bindings/python/run-tests.sh [extra pytest args]
# Env: PYTHON (interpreter to build the venv from, default python3),
#      STREAMKIT_PYVENV (venv dir, default <repo>/build/pyvenv-test; recreated each run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
default_venv="$root/build/pyvenv-test"
venv="${STREAMKIT_PYVENV:-$default_venv}"
py="${PYTHON:-python3}"

echo "== fresh venv: $venv ($("$py" --version))"
rm -rf "$venv"
"$py" -m venv "$venv"
vpy="$venv/bin/python"
"$vpy" -m pip install -q --upgrade pip
"$vpy" -m pip install -q maturin pytest pytest-asyncio pytest-timeout mypy

echo "== maturin build (release wheel), then pip install it"
# A stray in-tree extension from `maturin develop` must not shadow or leak into the wheel.
rm -f "$here"/python/streamkit/_streamkit*.so
wheels="$root/build/test-wheel"
rm -rf "$wheels"
# maturin directly (not pip's PEP 517 hook) so cargo's progress is shown.
"$venv/bin/maturin" build --release -m "$here/Cargo.toml" -o "$wheels"
"$vpy" -m pip install -q --no-index "$wheels"/streamkit-*.whl

cd "$here"
# Import from the installed wheel, not the source tree.
"$vpy" -c 'import streamkit, sys; assert "site-packages" in streamkit.__file__, streamkit.__file__; print("streamkit", streamkit.__version__, "from", streamkit.__file__)'

# scripts/check-readme.sh runs the README's Python example with build/pyvenv:
# point that at this venv unless a real venv of that name already exists.
if [ "$venv" = "$default_venv" ] && { [ -L "$root/build/pyvenv" ] || [ ! -e "$root/build/pyvenv" ]; }; then
    ln -sfn pyvenv-test "$root/build/pyvenv"
fi

echo "== mypy --strict"
"$vpy" -m mypy --strict tests bench

echo "== stubtest"
"$vpy" -m mypy.stubtest streamkit --allowlist "$here/stubtest-allowlist.txt"

echo "== pytest"
# -X dev: ResourceWarning and other development-mode warnings are on, and -W error makes each a failure
# --timeout: a hung test fails with every thread's stack instead of stalling the suite
"$vpy" -X dev -m pytest -W error -p no:cacheprovider --timeout 180 -q tests "$@"
