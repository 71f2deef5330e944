#!/usr/bin/env bash
# What always-on statistics cost: streamkit-bench's frame-rate and
# round-trip scenarios (2, 3, 6) with the stall clocks on (the normal build)
# and compiled out (--cfg streamkit_no_stall_clocks), alternating builds
# A B A B ... so load drift hits both alike. The byte and frame counters
# are plain additions under a lock already held and stay in both builds.
#
#   bash bench/stats-cost.sh [ROUNDS]      (default 5; about 20 s per round)
#
# Prints the median of each build per metric and the ratio on / off.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rounds="${1:-5}"
target="${CARGO_TARGET_DIR:-$root/target}"
off_target="$target/no-stall-clocks"
out="$target/stats-cost"
mkdir -p "$out"

cargo build --release -q -p streamkit-bench
RUSTFLAGS="${RUSTFLAGS:-} --cfg streamkit_no_stall_clocks" CARGO_TARGET_DIR="$off_target" \
    cargo build --release -q -p streamkit-bench
on_bin="$target/release/streamkit-bench"
off_bin="$off_target/release/streamkit-bench"
args=(--only 2,3,6 --variant streamkit --reps 1 --secs 2 --rtt 20000 --no-openssh)

for r in $(seq 1 "$rounds"); do
    for b in on off; do
        bin=$on_bin
        [ "$b" = off ] && bin=$off_bin
        "$bin" "${args[@]}" --markdown "$out/$b-$r.md" >"$out/$b-$r.log" 2>&1 || {
            cat "$out/$b-$r.log"
            echo "stats-cost: the $b build failed (round $r)" >&2
            exit 1
        }
        echo "round $r: stall clocks $b done"
    done
done

python3 - "$out" "$rounds" <<'EOF'
import statistics, sys, pathlib
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def rows(path):
    scen = ""
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[1].startswith("streamkit"):
            continue
        if cells[0]:
            scen = cells[0]
        if cells[2] in ("frames/s", "p50 µs", "MB/s"):
            yield f"{scen} ({cells[2]})", float(cells[3])
vals = {}
for b in ("on", "off"):
    for r in range(1, rounds + 1):
        for k, v in rows(out / f"{b}-{r}.md"):
            vals.setdefault(k, {}).setdefault(b, []).append(v)
def cell(v):
    return f"{statistics.median(v):.4g} ({min(v):.4g} … {max(v):.4g})"
print(f"\n{rounds} rounds, alternating; median (min … max)\n")
print("| metric | stall clocks on | stall clocks off | on ÷ off (medians) |")
print("|---|---:|---:|---:|")
for k, d in vals.items():
    on, off = statistics.median(d["on"]), statistics.median(d["off"])
    print(f"| {k} | {cell(d['on'])} | {cell(d['off'])} | {on / off:.2f} |")
EOF
