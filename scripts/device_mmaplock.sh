#!/usr/bin/env bash
# The kernel's side of the model's memory-map write lock (mmap_write_ns,
# mmap_wakeup_ns; docs/decisions.md, "The memory map's write lock") on a
# multi-core machine: scripts/mmaplock, prebuilt, grows a mapping 4 MiB at a
# time the way the Go heap grows (MAP_FIXED over a PROT_NONE reservation)
# while FAULTERS threads fault pages into it. It times each growth's mmap
# (the write the model holds, its drain included) and each fault (the slow
# ones are those that slept on it). Three controls follow each setting: the
# faulters write into another mapping; the whole mapping is made up front
# so that nothing grows; and, made up front too, new 64 KiB mappings are made
# elsewhere instead of growths (as sysAlloc gives the GC bits arenas their
# memory). One JSON line per setting and mode per repeat goes to
# $OUT/mmaplock.jsonl, the machine and build to $OUT/provenance.txt.
#
#   here:   (cd scripts/mmaplock && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/mmaplock .)
#   there:  OUT=DIR scripts/device_mmaplock.sh [build/device-probe]
#
# Settings (environment): FAULTERS (default "1,3,7,11,15"), GROWS (default
# 64), REPEATS (default 3). A setting whose threads (faulters and the grower)
# outnumber the CPUs is refused. The defaults take a few seconds on 16 CPUs
# and touch (GROWS + 1) x 4 MiB per setting, twice.
set -euo pipefail
# shellcheck source=scripts/device_common.sh
source "$(dirname "$0")/device_common.sh"

prebuilt mmaplock "${1:-}"
faulters=${FAULTERS:-1,3,7,11,15}
grows=${GROWS:-64}
repeats=${REPEATS:-3}
[[ $grows =~ ^[1-9][0-9]*$ ]] || bad "GROWS=$grows: expected a positive integer"
[[ $repeats =~ ^[1-9][0-9]*$ ]] || bad "REPEATS=$repeats: expected a positive integer"
for f in ${faulters//,/ }; do
  [[ $f =~ ^[1-9][0-9]*$ ]] || bad "FAULTERS: '$f' is not a positive count"
  (( f + 1 <= ncpu )) || bad "FAULTERS: $f faulters and the grower need $(( f + 1 )) CPUs, this machine has $ncpu"
done
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
for ((i = 0; i < repeats; i++)); do
  "$bin" -faulters "$faulters" -grows "$grows" >> "$w/mmaplock.jsonl"
done
{
  echo "command: OUT=$out_dir FAULTERS='$faulters' GROWS=$grows REPEATS=$repeats $0 $dir"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpus: $ncpu"
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  echo "uname: $(uname -a)"
  echo "thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
  echo "git: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "mmaplock sha256: $(sha256sum "$bin" | cut -d' ' -f1)"
} > "$w/provenance.txt"
mkdir -p "$out_dir"
mv "$w/mmaplock.jsonl" "$w/provenance.txt" "$out_dir/"
echo "device_mmaplock: $(wc -l < "$out_dir/mmaplock.jsonl") lines in $out_dir/mmaplock.jsonl" >&2
