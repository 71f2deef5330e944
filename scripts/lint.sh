#!/usr/bin/env bash
# The workspace baseline: formatting, clippy with warnings as errors, and
# rustdoc with warnings (broken intra-doc links included) as errors.
# Usage: ./scripts/lint.sh   (run by scripts/test-all.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        echo "installing the $c component"
        rustup component add "$c"
    fi
done
echo "--- cargo fmt --all --check"
cargo fmt --all --check
echo "--- cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "--- cargo doc (warnings are errors)"
# The Python extension is documented by its docstrings, not rustdoc.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --exclude streamkit-python --quiet
echo "lint: clean"
