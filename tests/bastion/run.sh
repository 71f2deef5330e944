#!/usr/bin/env bash
# A streamkit peer behind an ordinary OpenSSH bastion: `streamkit open
# --proxy-command 'ssh -W %h:%p bastion'` reaches a `streamkit serve` that
# only the bastion can forward to, through a real sshd started here on a
# loopback port. Installs openssh-server (sshd) and openssh-client if missing.
# Usage: bash tests/bastion/run.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SSHD=/usr/sbin/sshd

need=()
[ -x "$SSHD" ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "bastion test needs ${need[*]} (apt-get install ${need[*]})" >&2
        exit 1
    fi
fi

cargo build -q -p streamkit-cli
SK="$ROOT/target/debug/streamkit"
T=$(mktemp -d /tmp/sk-bastion-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done
    exit 1
}

# OpenSSH side: a host key, a client key for the bastion, a private config.
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/bastion_id"
cp "$T/bastion_id.pub" "$T/bastion_authorized"
mkdir -p /run/sshd 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
USER_NAME=$(id -un)
start_sshd() {
    local port=$1
    cat >"$T/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $T/host_key
AuthorizedKeysFile $T/bastion_authorized
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel DEBUG1
UseDNS no
CFG
    "$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "Server listening" "$T/sshd.log" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
SSHD_PORT=
for _ in 1 2 3; do
    p=$(free_port)
    if start_sshd "$p"; then SSHD_PORT=$p; break; fi
done
[ -n "$SSHD_PORT" ] || fail "sshd did not start"
echo "sshd (the bastion) on 127.0.0.1:$SSHD_PORT"
echo "[127.0.0.1]:$SSHD_PORT $(cat "$T/host_key.pub")" >"$T/bastion_known_hosts"

# streamkit side: keys, and a server on loopback.
"$SK" keygen -f "$T/server.key" >"$T/server.pub"
"$SK" keygen -f "$T/client.key" >"$T/client.pub"
"$SK" serve tcp://127.0.0.1:0 -k "$T/server.key" -a "$T/client.pub" \
    -s echo=echo -s 'who=exec:echo "$STREAMKIT_PEER"' >"$T/endpoint" 2>"$T/serve.log" &
pids+=($!)
for _ in $(seq 200); do [ -s "$T/endpoint" ] && break; sleep 0.05; done
EP=$(head -1 "$T/endpoint")
[ -n "$EP" ] || fail "serve printed no endpoint"
SK_PORT=${EP##*:}
echo "streamkit serve on $EP"

PROXY="ssh -F /dev/null -i $T/bastion_id -p $SSHD_PORT -o BatchMode=yes \
-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$T/bastion_known_hosts \
-W %h:%p $USER_NAME@127.0.0.1"

# 1. Bytes through the bastion, checked end to end.
head -c 500000 /dev/urandom >"$T/data"
"$SK" open --proxy-command "$PROXY" tcp://127.0.0.1:"$SK_PORT" echo \
    -k "$T/client.key" -a "$T/server.pub" --no-progress <"$T/data" >"$T/got" 2>"$T/open.log" \
    || fail "open through the bastion failed"
cmp -s "$T/data" "$T/got" || fail "echo through the bastion returned different bytes"
echo "ok: 500000 bytes echoed through ssh -W"

# 2. It really went through sshd: the bastion logged the forwarding to the port.
grep -q "direct-tcpip" "$T/sshd.log" || fail "sshd did not log a direct-tcpip forward"
grep -q "port $SK_PORT" "$T/sshd.log" || fail "sshd did not forward to port $SK_PORT"
echo "ok: sshd forwarded the connection"

# 3. Identity is streamkit's, end to end: the server sees our peer name.
out=$("$SK" open --proxy-command "$PROXY" tcp://127.0.0.1:"$SK_PORT" who --name behind-bastion \
    -k "$T/client.key" -a "$T/server.pub" </dev/null 2>>"$T/open.log")
[ "$out" = behind-bastion ] || fail "exec service saw peer name '$out'"
echo "ok: the server authenticated the client's streamkit key"

# 4. The bastion does not replace streamkit's trust: an untrusted server key is refused.
"$SK" keygen -f "$T/other.key" >"$T/other.pub"
if "$SK" open --proxy-command "$PROXY" tcp://127.0.0.1:"$SK_PORT" echo \
    -k "$T/client.key" -a "$T/other.pub" </dev/null >/dev/null 2>"$T/refused.log"; then
    fail "an untrusted server key was accepted through the bastion"
fi
grep -q "not trusted" "$T/refused.log" || fail "no 'not trusted' message: $(cat "$T/refused.log")"
echo "ok: streamkit's host key check still applies through the bastion"
echo "bastion: all passed"
