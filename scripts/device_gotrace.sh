#!/usr/bin/env bash
# Execution traces of the real runtime on a multi-core machine without Go:
# scripts/gotrace, prebuilt, at several sizes and GOMAXPROCS, with and without
# the probe's live heap; each setting once with GODEBUG=gctrace=1,gcpacertrace=1
# (untraced, for the cycles' clock and CPU split) and once under the execution
# tracer. Everything lands in one archive, $OUT/gotrace.tar.gz, with a
# provenance.txt (machine, build, command) inside it.
#
#   here:   (cd scripts/gotrace && CGO_ENABLED=0 ../../.venv/bin/go build -o ../../build/device-probe/gotrace .)
#   there:  OUT=DIR scripts/device_gotrace.sh [build/device-probe]
#   here:   tar -xzf DIR/gotrace.tar.gz -C T && for f in T/*.trace; do
#             .venv/bin/go tool trace -d=parsed $f > ${f%.trace}.parsed.txt; done &&
#           .venv/bin/python scripts/gotrace/summarize.py T/*.parsed.txt > summary.json
#
# Settings (environment): SIZES (default "48 1024"), PROCS (default "4 8 16"),
# LIVE_MIB (default 0: no live heap; 256 is the probe's), DUR (untraced run,
# default 300ms), TRACE_DUR (traced run, default 60ms without a live heap,
# 300ms with one: a live-heap mark phase lasts tens of ms). A GOMAXPROCS above
# the machine's CPU count is refused. With 3 sizes x 3 GOMAXPROCS the run takes
# about 10-20 s; the archive is some MB per traced setting.
set -euo pipefail
# shellcheck source=scripts/device_common.sh
source "$(dirname "$0")/device_common.sh"

prebuilt gotrace "${1:-}"
sizes=${SIZES:-48 1024}
procs=${PROCS:-4 8 16}
live=${LIVE_MIB:-0}
dur=${DUR:-300ms}
if [[ $live == 0 ]]; then tdur=${TRACE_DUR:-60ms}; else tdur=${TRACE_DUR:-300ms}; fi
[[ $live =~ ^[0-9]+$ ]] || bad "LIVE_MIB=$live: expected 0 or a positive integer"
for s in $sizes; do [[ $s =~ ^[1-9][0-9]*$ ]] || bad "SIZES: '$s' is not a positive integer"; done
for p in $procs; do
  [[ $p =~ ^[1-9][0-9]*$ ]] || bad "PROCS: '$p' is not a positive integer"
  (( p <= $ncpu )) || bad "PROCS: $p is above this machine's $ncpu CPUs"
done
mkdir -p "$out_dir"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
for s in $sizes; do
  for p in $procs; do
    n=s${s}_p${p}_live${live}
    GODEBUG=gctrace=1,gcpacertrace=1 "$bin" -size "$s" -procs "$p" -ballast-mib "$live" \
      -dur "$dur" > "$w/$n.untraced.out" 2> "$w/$n.untraced.err"
    "$bin" -size "$s" -procs "$p" -ballast-mib "$live" -dur "$tdur" -trace "$w/$n.trace" \
      > "$w/$n.traced.out" 2> "$w/$n.traced.err"
  done
done
{
  echo "command: OUT=$out_dir SIZES='$sizes' PROCS='$procs' LIVE_MIB=$live DUR=$dur TRACE_DUR=$tdur $0 $dir"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpus: $ncpu"
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  echo "uname: $(uname -a)"
  echo "git: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  [[ -f $dir/build.json ]] && { echo "probe build:"; cat "$dir/build.json"; }
} > "$w/provenance.txt"
tar -C "$w" -czf "$out_dir/gotrace.tar.gz.tmp" . && mv "$out_dir/gotrace.tar.gz.tmp" "$out_dir/gotrace.tar.gz"
echo "device_gotrace: $(ls "$w" | grep -c '\.trace$') traces in $out_dir/gotrace.tar.gz" >&2
