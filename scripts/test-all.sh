#!/usr/bin/env bash
# Build everything and run every test suite: the lint baseline (fmt, clippy,
# rustdoc), Rust, C, Python, Go, cross-language, the README examples, the
# README's demo and the distributables (dist/, used as a user would).
# Usage: ./scripts/test-all.sh            (from anywhere; needs Rust, Python 3 with
#                                           pip/venv, Go, a C compiler, make)
# Set STREAMKIT_SOAK=1 for the long soak mode of the reliability suite.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
LOGDIR="$ROOT/build/test-logs"
mkdir -p "$LOGDIR"

# System tools the suites use beyond the stock toolchains (ssh-keygen for the
# key-format tests; the C suite installs valgrind and pkg-config itself).
if ! command -v ssh-keygen >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing openssh-client (ssh-keygen)"
        apt-get update -qq && apt-get install -y -qq openssh-client >/dev/null
    else
        echo "ssh-keygen is missing: install openssh-client" >&2
        exit 1
    fi
fi

passed=()
failed=()

run_suite() {
    local name=$1; shift
    echo
    echo "=== $name: $*"
    local t0=$SECONDS
    if "$@" 2>&1 | tee "$LOGDIR/$name.log"; then
        passed+=("$name")
        echo "=== $name: PASSED in $((SECONDS - t0)) s"
    else
        failed+=("$name")
        echo "=== $name: FAILED in $((SECONDS - t0)) s (log: build/test-logs/$name.log)"
    fi
}

run_suite lint      bash scripts/lint.sh
run_suite rust      cargo test --workspace --exclude streamkit-python
run_suite c         bash tests/c/run.sh
run_suite python    bash bindings/python/run-tests.sh
run_suite go        bash bindings/go/run-tests.sh
run_suite readme    bash scripts/check-readme.sh
run_suite interop   bash tests/interop/run.sh
run_suite bastion   bash tests/bastion/run.sh
run_suite demo      bash scripts/demo.sh
run_suite dist      bash scripts/test-dist.sh
if [ -f bench/Cargo.toml ]; then
    run_suite bench-smoke cargo run --release -p streamkit-bench -- --quick
fi

echo
echo "==================== summary ===================="
for s in "${passed[@]}"; do echo "  PASS  $s"; done
for s in "${failed[@]:-}"; do [ -n "$s" ] && echo "  FAIL  $s"; done
echo "suites: ${#passed[@]} passed, $(( ${#failed[@]} )) failed"
[ ${#failed[@]} -eq 0 ]
