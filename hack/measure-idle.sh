#!/usr/bin/env bash
# Measures an idle, connected runner: resident memory and CPU time over a
# window. Usage: hack/measure-idle.sh [SECONDS]   (default 60)
# Everything runs on loopback against the bundled platform simulator and
# is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
make build >/dev/null
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
cleanup() { kill "${runner:-}" "${sim:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
./bin/flashduty-platform-sim --addr "127.0.0.1:$port" --api-key idle --keep-running </dev/null >"$work/sim.log" 2>&1 &
sim=$!
# Keep the simulator's stdin open so it waits instead of ending at EOF.
FLASHDUTY_RUNNER_API_KEY=idle FLASHDUTY_RUNNER_API_URL="ws://127.0.0.1:$port/safari/worknode/ws" \
FLASHDUTY_RUNNER_WORKSPACE_ROOT="$work/ws" FLASHDUTY_RUNNER_HTTP_ADDR=127.0.0.1:0 \
  ./bin/flashduty-runner run >"$work/runner.log" 2>&1 &
runner=$!
for _ in $(seq 50); do grep -q "connected to the platform" "$work/runner.log" && break; sleep 0.1; done
grep -q "connected to the platform" "$work/runner.log" || { echo "runner did not connect"; cat "$work/runner.log"; exit 1; }
sleep 2 # let start-up settle
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$runner/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep "$window"
c1=$(cpu); t1=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$runner/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$runner/status")
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
  printf "idle runner over %.0f s: RSS %.1f MiB (peak %.1f MiB), CPU %.3f%% of one core (%d ticks)\n",
    t1 - t0, rss / 1024, hwm / 1024, 100 * (c1 - c0) / hz / (t1 - t0), c1 - c0 }'
