#!/usr/bin/env bash
# Check that every example in README.md is identical to its file, then build
# and run each one. Needs the C library (target/release), the Python venv made
# by bindings/python/run-tests.sh (build/pyvenv) and Go.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
# 0. No tracked file refers to documents outside the repository (a clone has
# no ../shared/): the interface reference is docs/API.md, the russh notes are
# docs/PROTOCOL.md appendix 20. (The word "shared" alone is fine.)
if git grep -n -I -E '\.\./shared/|shared/API\.md|RUSSH-NOTES' -- . \
    ':!scripts/check-readme.sh'; then
    echo "references outside the repository (above): point them at docs/API.md or docs/PROTOCOL.md"
    fail=1
else
    echo "no references outside the repository"
fi
# 1. README blocks == files
python3 - <<'PY' || fail=1
import re, sys
text = open("README.md").read()
blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
if len(blocks) < 4:
    sys.exit(f"expected 4 examples in README.md, found {len(blocks)}")
bad = 0
for path, body in blocks:
    if open(path).read() != body:
        print(f"README.md example differs from {path}"); bad = 1
    else:
        print(f"README example matches {path}")
sys.exit(bad)
PY
expect() { # name, expected substring, command...
    local name=$1 want=$2; shift 2
    local out
    if out=$("$@" 2>&1) && grep -qF -- "$want" <<<"$out"; then
        echo "example $name: ok"
    else
        echo "example $name: FAILED"; echo "$out" | tail -20; fail=1
    fi
}
expect rust "echo: hello" cargo run -q --release -p streamkit-core --example hello
cargo build -q --release -p streamkit-ffi
mkdir -p build
cc -Wall -Werror -Iinclude examples/hello.c target/release/libstreamkit.a -lpthread -ldl -lm -o build/hello-c
expect c "client got: hello" ./build/hello-c
PY=${STREAMKIT_PYTHON:-build/pyvenv/bin/python}
expect python "b'echo: hello'" "$PY" examples/hello.py
expect go "echo: hello" bash -c "cd examples/go && go run -tags streamkit_checkout ."
# 3. The CLI walk-through, exactly as written, in a fresh shell.
walk=$(python3 - <<'PY'
import re, sys
m = re.search(r"<!-- cli-walkthrough -->\n```sh\n(.*?)```", open("README.md").read(), re.S)
if not m:
    sys.exit("README.md has no CLI walk-through block")
print(m.group(1))
PY
) || fail=1
walk_out() {
    local out
    out=$(bash -euo pipefail -c "$walk" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    # echo's reply, and date's output (a year)
    grep -qx "hello" <<<"$out" && grep -qE "(19|20)[0-9]{2}" <<<"$out"
}
expect cli-walkthrough "hello" walk_out
if [ $fail -eq 0 ]; then echo "readme: 6 passed, 0 failed"; else echo "readme: examples FAILED"; fi
exit $fail
