#!/usr/bin/env bash
# streamkit demo, all on loopback:
#   1. build the `streamkit` CLI (release),
#   2. make a server key and a client key in a temporary directory,
#   3. start `streamkit serve` with echo, exec and forward services,
#   4. pipe a 100 MiB file through an echo channel and compare sha256 sums,
#      and hash it on the server side through an exec service,
#   5. fetch a page from a local HTTP server through `streamkit forward`,
#   6. print throughput,
# and stop every process it started (trap), whatever happens.
#
# Usage: scripts/demo.sh            (from anywhere; SIZE_MIB=N to change the file size)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MIB="${SIZE_MIB:-100}"
PY="${PYTHON:-python3}"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

PIDS=()
TMP=""
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
    if [ "$rc" -eq 0 ]; then
        printf '\ndemo: OK (all processes stopped, temporary files removed)\n'
    else
        printf '\ndemo: failed with exit code %s (all processes stopped)\n' "$rc" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
now() { "$PY" -c 'import time; print(time.time())'; }
mib_per_s() { "$PY" -c "import sys; b,t=float(sys.argv[1]),float(sys.argv[2]); print('%.1f' % (b/1048576/max(t,1e-9)))" "$@"; }
secs() { "$PY" -c "import sys; print('%.2f' % (float(sys.argv[2])-float(sys.argv[1])))" "$@"; }

# Wait until FILE has a first line, and print it. $2: pid that must stay alive.
first_line() {
    local file=$1 pid=$2 i
    for i in $(seq 1 300); do
        if [ -s "$file" ] && head -n1 "$file" | grep -q .; then head -n1 "$file"; return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

say "building streamkit (release)"
(cd "$ROOT" && cargo build --release -p streamkit-cli)
SK="${CARGO_TARGET_DIR:-$ROOT/target}/release/streamkit"
[ -x "$SK" ] || die "no binary at $SK"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/streamkit-demo.XXXXXX")"
# HOME inside the temp dir: the demo never reads or writes your ~/.ssh.
export HOME="$TMP/home"
mkdir -p "$HOME"

say "generating keys in $TMP"
"$SK" keygen -f "$TMP/server.key" > "$TMP/server.pub" 2>/dev/null
"$SK" keygen -f "$TMP/client.key" > "$TMP/client.pub" 2>/dev/null
echo "server: $(cat "$TMP/server.pub")"
echo "client: $(cat "$TMP/client.pub")"
CLIENT=(--key "$TMP/client.key" --authorized-keys "$TMP/server.pub")

say "starting a local HTTP server (python3 -m http.server on 127.0.0.1)"
mkdir -p "$TMP/www"
cat > "$TMP/www/index.html" <<'EOF'
<!doctype html>
<title>streamkit demo</title>
<h1>Hello through a streamkit channel</h1>
EOF
"$PY" -u -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" > "$TMP/http.log" 2>&1 &
PIDS+=($!)
HTTP_PORT=""
for _ in $(seq 1 100); do
    HTTP_PORT="$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$TMP/http.log" | head -n1)"
    [ -n "$HTTP_PORT" ] && break
    sleep 0.1
done
[ -n "$HTTP_PORT" ] || die "the HTTP server did not start: $(cat "$TMP/http.log")"
echo "http://127.0.0.1:$HTTP_PORT/"

say "starting streamkit serve with echo, exec and forward services"
"$SK" serve tcp://127.0.0.1:0 --key "$TMP/server.key" --authorized-keys "$TMP/client.pub" \
    --service echo=echo \
    --service sink=discard \
    --service sha256='exec:sha256sum 2>/dev/null || shasum -a 256' \
    --service uname='exec:uname -sr; echo "exiting with 7" >&2; exit 7' \
    --service web="forward:tcp://127.0.0.1:$HTTP_PORT" \
    > "$TMP/serve.out" 2> "$TMP/serve.log" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
EP="$(first_line "$TMP/serve.out" "$SERVE_PID")" || die "streamkit serve did not start: $(cat "$TMP/serve.log")"
echo "serving on $EP"

say "making a ${SIZE_MIB} MiB file of random bytes"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$TMP/data.bin"
BYTES=$((SIZE_MIB * 1048576))
SUM_IN="$(sha256 "$TMP/data.bin")"
echo "sha256 $SUM_IN"

say "piping it through the echo service and back"
T0="$(now)"
"$SK" open "$EP" echo "${CLIENT[@]}" --no-progress < "$TMP/data.bin" > "$TMP/echoed.bin"
T1="$(now)"
SUM_OUT="$(sha256 "$TMP/echoed.bin")"
echo "sha256 $SUM_OUT"
[ "$SUM_IN" = "$SUM_OUT" ] || die "checksums differ after the echo round trip"
echo "checksums match: ${SIZE_MIB} MiB each way in $(secs "$T0" "$T1") s"
ECHO_RATE="$(mib_per_s "$BYTES" "$(secs "$T0" "$T1")")"

say "sending it one way (discard service)"
T0="$(now)"
"$SK" open "$EP" sink "${CLIENT[@]}" --no-progress < "$TMP/data.bin" 2> "$TMP/sink.err"
T1="$(now)"
grep -q "received-bytes=$BYTES" "$TMP/sink.err" || die "the server did not receive every byte: $(cat "$TMP/sink.err")"
SINK_RATE="$(mib_per_s "$BYTES" "$(secs "$T0" "$T1")")"
echo "server received all $BYTES bytes in $(secs "$T0" "$T1") s"

say "hashing it on the server through the exec service"
REMOTE_SUM="$("$SK" open "$EP" sha256 "${CLIENT[@]}" --no-progress --quiet < "$TMP/data.bin" | cut -d' ' -f1)"
echo "remote sha256 $REMOTE_SUM"
[ "$REMOTE_SUM" = "$SUM_IN" ] || die "the server computed a different checksum"

say "exec: stdout, stderr as error frames, exit status as the exit code"
set +e
"$SK" open "$EP" uname "${CLIENT[@]}" < /dev/null
RC=$?
set -e
echo "exit code: $RC"
[ "$RC" -eq 7 ] || die "expected exit code 7 from the exec service, got $RC"

say "fetching the page through streamkit forward (like ssh -L)"
"$SK" forward 127.0.0.1:0 "$EP" web "${CLIENT[@]}" --no-progress > "$TMP/forward.out" 2> "$TMP/forward.log" &
FWD_PID=$!
PIDS+=("$FWD_PID")
LOCAL="$(first_line "$TMP/forward.out" "$FWD_PID")" || die "streamkit forward did not start: $(cat "$TMP/forward.log")"
echo "GET http://$LOCAL/ -> (channel) -> 127.0.0.1:$HTTP_PORT"
"$PY" - "http://$LOCAL/index.html" "$TMP/www/index.html" <<'EOF'
import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=30).read()
want = open(sys.argv[2], "rb").read()
print(body.decode().strip())
if body != want:
    sys.exit("demo: the page fetched through the forward differs from the original")
EOF

say "throughput (one connection, loopback, ${SIZE_MIB} MiB, encrypted)"
printf '  one way (discard):        %8s MiB/s\n' "$SINK_RATE"
printf '  round trip (echo):        %8s MiB/s each way, both at once\n' "$ECHO_RATE"
