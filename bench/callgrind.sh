#!/usr/bin/env bash
# User-space instructions per delivery of the bench server on its real path (sockets, tokio,
# the stream's writer), counted by valgrind's callgrind: `bench/callgrind.sh [N] [SENDS_PER_S]`
# (default 500 subscribers, 4 sends/s).
#
# The same fixed-rate load runs twice, for 2 s and for 6 s, each against a fresh server under
# callgrind; the difference in instructions (and in simulated first-level data-cache misses,
# with a 4 MiB last level standing in for a shared host's share of L3) over the difference in
# deliveries is what one more delivery costs, start-up and connections cancelled out. An
# instruction count does not move with steal time, other tenants or clock speed, so it shows
# a change of a few percent that wall-clock figures on a shared host cannot. The kernel's share
# (the write itself) is not counted: `broker-micro`'s floor table measures that.
#
# Needs valgrind (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-500}"
SENDS="${2:-4}"
PORT="${CALLGRIND_PORT:-18095}"

if ! command -v valgrind >/dev/null; then
  echo "== apt-get install -y valgrind"
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=bench/build.sh
. bench/build.sh
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# measure SECONDS: prints `deliveries Ir D1mr D1mw` of one run.
measure() {
  local seconds="$1" out="$WORK/callgrind.$1"
  valgrind --tool=callgrind --cache-sim=yes --LL=4194304,16,64 --callgrind-out-file="$out" \
    "$SERVER" --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  local line
  line="$("$LOADGEN" --addr "127.0.0.1:$PORT" --connections "$N" --rate $((N * SENDS)) \
    --duration "$seconds" --drain-timeout 60 2>/dev/null | tail -n 1)"
  # The counts so far, written while the server still runs (it is then killed).
  callgrind_control --dump "$PID" >/dev/null 2>&1
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
  python3 - "$line" "$out".1 <<'EOF'
import json, sys
report = json.loads(sys.argv[1])
if not report["exactly_once_in_order"]:
    sys.exit("not every message arrived exactly once and in order")
events = summary = None
for line in open(sys.argv[2]):
    if line.startswith("events:"):
        events = line.split()[1:]
    elif line.startswith("summary:"):
        summary = [int(v) for v in line.split()[1:]]
counts = dict(zip(events, summary))
print(report["delivered"], counts["Ir"], counts["D1mr"], counts["D1mw"])
EOF
}

echo "== $N subscribers, $SENDS sends/s, under callgrind: 2 s, then 6 s"
read -r d1 ir1 r1 w1 <<<"$(measure 2)"
read -r d2 ir2 r2 w2 <<<"$(measure 6)"
python3 - "$N" "$SENDS" "$d1" "$ir1" "$r1" "$w1" "$d2" "$ir2" "$r2" "$w2" <<'EOF'
import sys
n, sends, d1, ir1, r1, w1, d2, ir2, r2, w2 = map(int, sys.argv[1:])
deliveries = d2 - d1
if deliveries <= 0:
    sys.exit("the longer run delivered no more than the shorter one")
print(f"user-space cost of one delivery, {n} subscribers × {sends} sends/s "
      f"({deliveries} deliveries apart): {(ir2 - ir1) / deliveries:.0f} instructions, "
      f"{(r2 - r1) / deliveries:.1f} L1 data read misses, {(w2 - w1) / deliveries:.1f} write misses")
EOF
