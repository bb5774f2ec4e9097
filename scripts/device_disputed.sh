#!/usr/bin/env bash
# One device call for what the shared ground truth leaves open (stop 32 ran it):
# the lock hand-off costs on the 16-core machine
# (scripts/device_wakeup.sh with spin, one pair and four pairs), the shared
# grid twice with this revision's probe, and the disputed cases repeated
# (experiments/groundtruth/grids/disputed.json: GC-on 32 KiB top lock at
# 8-16 Ps; GC-off 1 KiB with and without page touches). One archive back,
# $OUT/s32.tar.gz (experiments/groundtruth/extra/README.md: where its files went).
#
#   here:   gosim realgo-scaling --build-only build/device-probe
#           (cd scripts/wakeup && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/wakeup .)
#           (cd scripts/spin && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/spin .)
#   there:  OUT=DIR scripts/device_disputed.sh [build/device-probe]   (about 2 minutes on 16 CPUs)
set -uo pipefail
here=$(dirname "$0")
d=${1:-build/device-probe}
out=${OUT:?set OUT to the directory to write into}
w=$out/s32
mkdir -p "$w"
{ date -u; env -u OMP_NUM_THREADS nproc; lscpu; numactl -H 2>&1 || ls /sys/devices/system/node;
  cat /sys/kernel/mm/transparent_hugepage/enabled; uname -a; cat /proc/loadavg; git rev-parse HEAD; } > "$w/machine.txt" 2>&1
# each step runs whatever the one before did (a device call brings back all it
# got); machine.txt records every step's exit status, and the script fails if
# any step did
failed=0
step() {
  local name=$1; shift
  "$@"
  local rc=$?
  echo "step $name: exit $rc" >> "$w/machine.txt"
  if (( rc != 0 )); then failed=1; fi
}
step wakeup env OUT="$w/wakeup" "$here/device_wakeup.sh" "$d"
step wakeup4 env OUT="$w/wakeup4" LOADS="0 8" PAIRS=4 "$here/device_wakeup.sh" "$d"
step grid env OUT="$w/grid" REPEATS=2 "$here/device_groundtruth.sh" "$d"
step disputed env OUT="$w/grid" GRID="$here/../experiments/groundtruth/grids/disputed.json" \
  "$here/device_groundtruth.sh" "$d"
{ echo "end: $(date -u)"; cat /proc/loadavg; } >> "$w/machine.txt"
tar -C "$out" -czf "$out/s32.tar.gz" s32 && rm -rf "$w"
ls -la "$out"
exit "$failed"
