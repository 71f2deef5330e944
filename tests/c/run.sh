#!/usr/bin/env bash
# C test suite for the streamkit C ABI.
#
#   bash tests/c/run.sh            build, check, run everything
#   SK_SKIP_VALGRIND=1 bash ...    skip the valgrind pass (it is on by default)
#
# 1. cargo build --release -p streamkit-ffi, and the crate's Rust tests
#    (panic boundary, handle table, runtime; header freshness)
# 2. streamkit-ffi/gen_header.sh --verify: the committed include/streamkit.h
#    must equal fresh cbindgen output
# 3. stage an install (streamkit-ffi/install.sh) and build every C program
#    with -Wall -Wextra -Werror against include/streamkit.h, once linked to
#    libstreamkit.so (via pkg-config) and once to libstreamkit.a
# 4. run test_api and test_fork (both linkages), examples/echo.c and
#    examples/poll_echo.c
# 5. run test_api and test_fork under valgrind (definite leaks and invalid
#    accesses fail the run)
#
# Prints "c: N passed, M failed" last; exits non-zero on any failure.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/c-tests"
prefix="$out/prefix"
rm -rf "$out"
mkdir -p "$out"

passed=0
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "ok:   $*"; passed=$((passed + 1)); }
finish() {
    echo "c: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0 || exit 1
}

step() { echo; echo "== $*"; }

# valgrind and pkg-config come from Debian packages; install them when
# missing and we are root (as on CI machines), else report what is missing.
missing_pkgs=()
command -v pkg-config >/dev/null || missing_pkgs+=(pkg-config)
if [ "${SK_SKIP_VALGRIND:-0}" != 1 ] && ! command -v valgrind >/dev/null; then missing_pkgs+=(valgrind); fi
if [ "${#missing_pkgs[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "apt-get install ${missing_pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
fi

step "build libstreamkit (release)"
if ! cargo build --release -p streamkit-ffi; then
    fail "cargo build --release -p streamkit-ffi"
    finish
fi

step "header is fresh"
if bash streamkit-ffi/gen_header.sh --verify; then pass "include/streamkit.h matches cbindgen output"; else fail "include/streamkit.h is stale"; fi

step "libstreamkit.so exports exactly the header's functions"
grep -E '^[a-z_ ]+\*?sk_[a-z_]+\(' include/streamkit.h | grep -Eo 'sk_[a-z_]+\(' | tr -d '(' | sort -u >"$out/header-functions.txt"
nm -D --defined-only "$target/release/libstreamkit.so" | awk '$2 == "T" { print $3 }' | grep -v '^_' | sort -u >"$out/exports.txt"
if diff "$out/header-functions.txt" "$out/exports.txt"; then
    pass "exports = header functions ($(wc -l <"$out/exports.txt"))"
else
    fail "exported symbols differ from the header's functions (< header, > library)"
fi

step "every function of the header is exercised by the C tests"
missing=""
for fn in $(grep -Eo '\bsk_[a-z_]+\(' include/streamkit.h | tr -d '(' | sort -u); do
    grep -q "\b$fn(" tests/c/test_api.c tests/c/test_fork.c || missing="$missing $fn"
done
if [ -z "$missing" ]; then pass "all header functions appear in tests/c"; else fail "not exercised:$missing"; fi

step "Rust tests of streamkit-ffi"
if cargo test --release -p streamkit-ffi --lib --tests 2>&1 | tee "$out/cargo-test.log"; then
    n=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$out/cargo-test.log" | awk '{s+=$4} END {print s+0}')
    pass "cargo test -p streamkit-ffi ($n Rust tests)"
else
    fail "cargo test -p streamkit-ffi"
fi

step "stage install + pkg-config"
if ! SK_NO_BUILD=1 bash streamkit-ffi/install.sh "$prefix" >/dev/null; then
    fail "streamkit-ffi/install.sh"
    finish
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if ! pkg-config --exists streamkit; then fail "pkg-config streamkit"; finish; fi
pass "pkg-config: $(pkg-config --cflags --libs streamkit)"

step "soname"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
want_soname="libstreamkit.so.$(cut -d. -f1 <<<"$version")"
[ "${version%%.*}" = 0 ] && want_soname="libstreamkit.so.0.$(cut -d. -f2 <<<"$version")"
soname="$(readelf -d "$prefix/lib/libstreamkit.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
if [ "$soname" = "$want_soname" ] && [ -f "$prefix/lib/libstreamkit.so.$version" ] && [ -L "$prefix/lib/$soname" ]; then
    pass "soname $soname; installed as libstreamkit.so.$version with symlinks"
else
    fail "soname: got '$soname', want '$want_soname' (and libstreamkit.so.$version)"
fi

CC="${CC:-cc}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -O1)
shared_link=($(pkg-config --libs streamkit) "-Wl,-rpath,$prefix/lib" -lpthread)
static_link=("$prefix/lib/libstreamkit.a" $(pkg-config --static --libs-only-l streamkit | sed 's/-lstreamkit//'))

step "compile C programs (-Wall -Wextra -Werror)"
build() { # name src link...
    local name="$1" src="$2"
    shift 2
    if "$CC" "${CFLAGS[@]}" $(pkg-config --cflags streamkit) -o "$out/$name" "$src" "$@"; then
        pass "compile $name"
    else
        fail "compile $name"
    fi
}
build test_api_shared tests/c/test_api.c "${shared_link[@]}"
build test_api_static tests/c/test_api.c "${static_link[@]}"
build test_fork_shared tests/c/test_fork.c "${shared_link[@]}"
build test_fork_static tests/c/test_fork.c "${static_link[@]}"
build echo_shared streamkit-ffi/examples/echo.c "${shared_link[@]}"
build echo_static streamkit-ffi/examples/echo.c "${static_link[@]}"
build poll_echo_shared streamkit-ffi/examples/poll_echo.c "${shared_link[@]}"

# The header on its own: strict C99, and C++ (extern "C", typed enum) linked to the .so.
printf '#include <streamkit.h>\nint main(void) { return sk_version()[0] == 0; }\n' >"$out/header_only.c"
if "$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags streamkit) -o "$out/header_c99" \
    "$out/header_only.c" "${shared_link[@]}" && "$out/header_c99"; then
    pass "header: C99 -Wpedantic"
else
    fail "header: C99 -Wpedantic"
fi
if command -v "${CXX:-c++}" >/dev/null; then
    cp "$out/header_only.c" "$out/header_only.cpp"
    if "${CXX:-c++}" -std=c++11 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags streamkit) \
        -o "$out/header_cpp" "$out/header_only.cpp" "${shared_link[@]}" && "$out/header_cpp"; then
        pass "header: C++11"
    else
        fail "header: C++11"
    fi
fi

# The two linkages really differ.
if [ -x "$out/test_api_shared" ] && [ -x "$out/test_api_static" ]; then
    # (capture first: with pipefail, grep -q closing the pipe early would fail ldd)
    ldd_shared="$(ldd "$out/test_api_shared")"
    ldd_static="$(ldd "$out/test_api_static")"
    if [[ "$ldd_shared" == *"$want_soname => $prefix/lib/$want_soname"* ]] && [[ "$ldd_static" != *libstreamkit* ]]; then
        pass "linkage: shared binary uses libstreamkit.so, static binary does not"
    else
        fail "linkage check (ldd)"
    fi
fi

# Run a test binary; add its "suite: N passed, M failed" line to the totals.
run_suite() { # label timeout cmd...
    local label="$1" t="$2"
    shift 2
    local log="$out/$label.log"
    echo "-- $label"
    timeout "$t" "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local line
    line=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)
    if [ -n "$line" ]; then
        local p f
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed/\1/')
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$label exited with $rc"; fi
    else
        fail "$label (exit $rc, no summary line)"
    fi
}

step "run C tests"
for bin in test_api_shared test_api_static test_fork_shared test_fork_static; do
    [ -x "$out/$bin" ] && run_suite "$bin" 600 "$out/$bin"
done
# A single runtime worker thread must be enough for everything.
[ -x "$out/test_api_static" ] && STREAMKIT_THREADS=1 run_suite test_api_1thread 600 "$out/test_api_static"
for bin in echo_shared echo_static; do
    [ -x "$out/$bin" ] || continue
    if timeout 60 "$out/$bin" one two three >"$out/$bin.log" 2>&1 &&
        grep -q 'client: echoed "three"' "$out/$bin.log"; then
        pass "examples/echo.c ($bin)"
    else
        cat "$out/$bin.log"
        fail "examples/echo.c ($bin)"
    fi
done
if [ -x "$out/poll_echo_shared" ]; then
    if timeout 120 "$out/poll_echo_shared" 16 >"$out/poll_echo.log" 2>&1 &&
        grep -q 'client: 48 of 48 replies correct' "$out/poll_echo.log" &&
        grep -q 'server: served 16 channels from one thread' "$out/poll_echo.log"; then
        pass "examples/poll_echo.c (16 channels, one poll loop)"
    else
        cat "$out/poll_echo.log"
        fail "examples/poll_echo.c"
    fi
fi

if [ "${SK_SKIP_VALGRIND:-0}" = 1 ]; then
    echo "valgrind pass skipped (SK_SKIP_VALGRIND=1)"
elif ! command -v valgrind >/dev/null; then
    fail "valgrind not installed (apt-get install valgrind, or SK_SKIP_VALGRIND=1)"
else
    step "valgrind"
    vg=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
        --show-leak-kinds=definite --error-exitcode=99 --num-callers=30
        --suppressions=tests/c/valgrind.supp)
    for bin in test_api_shared test_fork_shared echo_shared; do
        [ -x "$out/$bin" ] || continue
        label="valgrind_${bin%_shared}"
        if [ "$bin" = echo_shared ]; then
            if SK_TEST_SLOW=20 timeout 900 "${vg[@]}" "$out/$bin" >"$out/$label.log" 2>&1; then
                pass "$label"
            else
                cat "$out/$label.log"
                fail "$label"
            fi
        else
            SK_TEST_SLOW=20 run_suite "$label" 1800 "${vg[@]}" "$out/$bin"
        fi
    done
fi

finish
