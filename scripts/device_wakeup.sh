#!/usr/bin/env bash
# This machine's futex wake-to-run latency, idle and with busy CPUs beside it:
# scripts/wakeup, prebuilt, at each LOADS (busy threads) x PAUSES (how long the
# sleeper sleeps before it is woken). The model prices a woken lock sleeper
# (lock_wakeup_ns) and a woken idle M (m_wakeup_ns) by this latency; the
# 16-core profile has 4 us for the first and 50 us for the second, which on one
# machine cannot both be right (docs/decisions.md, "Locks"). One JSON line per
# setting goes to $OUT/wakeup.jsonl, the machine and build to $OUT/provenance.txt.
# The other lock hand-off cost, a waiter's spin window before it sleeps
# (lock_spin_ns), goes to $OUT/spin.jsonl when scripts/spin is built beside it
# (scripts/spin: lock2's 4 x procyield(30) and osyield on this CPU).
#
#   here:   (cd scripts/wakeup && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/wakeup .)
#           (cd scripts/spin && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/spin .)
#   there:  OUT=DIR scripts/device_wakeup.sh [build/device-probe]
#
# Settings (environment): LOADS (default "0 4 8 14"), PAUSES (default
# "0,20us,200us,2ms"), PAIRS (default 1), ROUNDS (default 2000). A load that
# with its pairs needs more CPUs than the machine has is refused. The defaults
# take about 20 s on 16 CPUs.
set -euo pipefail
# shellcheck source=scripts/device_common.sh
source "$(dirname "$0")/device_common.sh"

prebuilt wakeup "${1:-}"
loads=${LOADS:-0 4 8 14}
pauses=${PAUSES:-0,20us,200us,2ms}
pairs=${PAIRS:-1}
rounds=${ROUNDS:-2000}
[[ $pairs =~ ^[1-9][0-9]*$ ]] || bad "PAIRS=$pairs: expected a positive integer"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || bad "ROUNDS=$rounds: expected a positive integer"
for l in $loads; do
  [[ $l =~ ^[0-9]+$ ]] || bad "LOADS: '$l' is not a count of threads"
  (( l + 2 * pairs <= $ncpu )) || bad "LOADS: $l busy threads and $pairs pairs need $(( l + 2 * pairs )) CPUs, this machine has $ncpu"
done
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
"$bin" -loads "$(echo $loads | tr ' ' ',')" -pauses "$pauses" -pairs "$pairs" -rounds "$rounds" \
  > "$w/wakeup.jsonl"
{
  echo "command: OUT=$out_dir LOADS='$loads' PAUSES='$pauses' PAIRS=$pairs ROUNDS=$rounds $0 $dir"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpus: $ncpu"
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  echo "uname: $(uname -a)"
  echo "cpuidle: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo unknown)"
  echo "git: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "wakeup sha256: $(sha256sum "$bin" | cut -d' ' -f1)"
} > "$w/provenance.txt"
if [[ -x $dir/spin ]]; then
  "$dir/spin" -rounds "$rounds" > "$w/spin.jsonl"
  echo "spin sha256: $(sha256sum "$dir/spin" | cut -d' ' -f1)" >> "$w/provenance.txt"
fi
mkdir -p "$out_dir"
mv "$w"/*.jsonl "$w/provenance.txt" "$out_dir/"
echo "device_wakeup: $(wc -l < "$out_dir/wakeup.jsonl") settings in $out_dir/wakeup.jsonl" >&2
