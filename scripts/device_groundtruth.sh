#!/usr/bin/env bash
# Ground truth on a multi-core machine without Go or Python: the grid of
# experiments/groundtruth/go1.27-16core.jsonl, run by a prebuilt probe.
#
#   here:   gosim realgo-scaling --build-only build/device-probe      (static linux/amd64)
#   there:  OUT=DIR scripts/device_groundtruth.sh [build/device-probe]
#
# Writes $OUT/go1.27-16core-gosim.jsonl (one record per line, the shared
# file's format; see experiments/groundtruth/README.md) and
# $OUT/go1.27-16core-gosim.jsonl.provenance.json (date, machine, command,
# the probe's build.json, the grid with its windows, wall time). Both appear
# only once every record is in. The file is named for the release the probe
# was built with (build.json's "go"), e.g. go1.25-16core-gosim.jsonl.
#
# The grid (48 records, about a minute of wall time on 16 cores): 3 regimes
# x sizes 48, 1024, 32768 B x GOMAXPROCS 1, 2, 4, 8, 12, 16, one goroutine
# per P, pointer-free objects, one byte written per 4 KiB page;
#   gc, no ballast:   GOGC=100, warm-up 0.1 s, window 0.6 s;
#   nogc (1 KiB and 32 KiB only): GC off, 128 MiB per goroutine, timed whole;
#   gc, 256 MiB live: GOGC=100, warm-up 0.2 s, window 1 s.
# The windows are the shared file's. REPEATS=N (default 1) runs every
# setting N times (tags _r1.._rN). GOMAXPROCS above the machine's CPU count
# is refused. TRACE=1 runs every record's process with
# GODEBUG=gctrace=1,scavtrace=1,gcpacertrace=1 and keeps the probe's stderr
# as $OUT/<file>.trace.txt; back where gosim is installed,
#   gosim realgo-scaling OUT/<file> --fold-trace OUT/<file>.trace.txt
# gives each gc record its cycles' summary (gctrace: mark phases, heap at mark
# end, the pacer's trigger, utilization and cons/mark). For a quick local
# check of the script itself: PROCS=1,2
# GC_WINDOW="0.01 0.05" LIVE_WINDOW="0.01 0.05" LIVE_MIB=8 (the provenance
# records the windows used).
# GRID=FILE runs another grid instead, a JSON file in the probe's grid format
# (the heredoc below; experiments/groundtruth/grids/ has the ones used): the
# records go to <release>-<N>core-gosim-<FILE's name>.jsonl, each block keeps
# its own repeats unless REPEATS is set, the other settings but TRACE are
# ignored, and the count check is the
# probe's own exit status (it writes a record per setting or fails).
set -euo pipefail
# shellcheck source=scripts/device_common.sh
source "$(dirname "$0")/device_common.sh"

probe_dir=${1:-build/device-probe}
out_dir=${OUT:?set OUT to the directory to write into}
repeats=${REPEATS:-1}
trace=${TRACE:-0}
bin=$probe_dir/gosimprobe
if [[ ! -x $bin ]]; then
  echo "device_groundtruth: no probe at $bin; build it first: gosim realgo-scaling --build-only $probe_dir" >&2
  exit 2
fi
grid_file=${GRID:-}
if [[ -n $grid_file && ! -f $grid_file ]]; then bad "GRID=$grid_file: no such file"; fi
procs=${PROCS:-1,2,4,8,12,16}
read -r gc_warm gc_dur <<< "${GC_WINDOW:-0.1 0.6}"
read -r live_warm live_dur <<< "${LIVE_WINDOW:-0.2 1.0}"
live_mib=${LIVE_MIB:-256}
[[ $repeats =~ ^[1-9][0-9]*$ ]] || bad "REPEATS=$repeats: expected a positive integer"
[[ $trace == 0 || $trace == 1 ]] || bad "TRACE=$trace: expected 0 or 1"
child_godebug=""
if [[ $trace == 1 ]]; then child_godebug="gctrace=1,scavtrace=1,gcpacertrace=1"; fi
[[ $procs =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || bad "PROCS=$procs: expected e.g. 1,2,4"
[[ $live_mib =~ ^[1-9][0-9]*$ ]] || bad "LIVE_MIB=$live_mib: expected a positive integer"
num='^[0-9]+(\.[0-9]+)?$'
for v in "$gc_warm" "$gc_dur" "$live_warm" "$live_dur"; do
  [[ $v =~ $num ]] || bad "GC_WINDOW / LIVE_WINDOW: expected two numbers (warm-up, window in seconds), got '$v'"
done
mkdir -p "$out_dir"

release=go
if [[ -f $probe_dir/build.json ]]; then
  release=$(sed -n 's/.*"go": *"\(go[0-9]*\.[0-9]*\).*/\1/p' "$probe_dir/build.json" | head -n 1)
fi
name=${release:-go}-${ncpu}core-gosim.jsonl
if [[ -n $grid_file ]]; then
  gname=$(basename "$grid_file" .json)
  [[ $gname =~ ^[A-Za-z0-9_.-]+$ ]] || bad "GRID=$grid_file: name the file in letters, digits, '.', '_' and '-'"
  name=${release:-go}-${ncpu}core-gosim-$gname.jsonl
fi
dest=$out_dir/$name
tmp=$(mktemp -d "$out_dir/.device_groundtruth.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

common='"kind": "noscan", "g_per_p": 1, "touch": true, "work_iters": 0'
cat > "$tmp/grid.json" <<EOF
{"mode": "grid", "allow_oversubscribe": false, "child_godebug": "$child_godebug", "blocks": [
 {"mode": "gc", "sizes": [48, 1024, 32768], "procs": [$procs], $common, "gogc": 100,
  "ballast_mib": 0, "warm_s": $gc_warm, "dur_s": $gc_dur, "count_per_g": 0, "repeats": $repeats},
 {"mode": "nogc", "sizes": [1024, 32768], "procs": [$procs], $common, "gogc": -1,
  "ballast_mib": 0, "warm_s": 0, "dur_s": 0, "count_per_g": 0, "repeats": $repeats},
 {"mode": "gc", "sizes": [48, 1024, 32768], "procs": [$procs], $common, "gogc": 100,
  "ballast_mib": $live_mib, "warm_s": $live_warm, "dur_s": $live_dur, "count_per_g": 0, "repeats": $repeats}
]}
EOF
if [[ -n $grid_file ]]; then
  # the given grid, with this run's TRACE, and its REPEATS where set
  rep_expr='s/^//'
  if [[ -n ${REPEATS:-} ]]; then rep_expr="s/\"repeats\": *[0-9][0-9]*/\"repeats\": $repeats/g"; fi
  sed -e "$rep_expr" \
      -e "s/\"child_godebug\": *\"[^\"]*\"/\"child_godebug\": \"$child_godebug\"/" \
      "$grid_file" > "$tmp/grid.json"
  grep -q '"child_godebug"' "$tmp/grid.json" || bad "GRID=$grid_file: no \"child_godebug\" key (see the heredoc in $0)"
fi

clean() { tr -d '"\\' | tr '\n\t' '  ' | sed 's/ *$//'; }
rep_shown=$repeats
if [[ -n $grid_file && -z ${REPEATS:-} ]]; then rep_shown="(the grid's)"; fi
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s.%N)
if [[ $trace == 1 ]]; then
  # the runtime's lines and the probe's progress lines, for --fold-trace
  "$bin" "$tmp/grid.json" > "$tmp/records.jsonl" 2> "$tmp/trace.txt"
else
  "$bin" "$tmp/grid.json" > "$tmp/records.jsonl"
fi
t1=$(date +%s.%N)
records=$(wc -l < "$tmp/records.jsonl" | tr -d ' ')
nprocs=$(tr ',' '\n' <<< "$procs" | wc -l)
expected=$((8 * nprocs * repeats))
if [[ -n $grid_file ]]; then
  expected=$records
  (( records > 0 )) || { echo "device_groundtruth: the probe wrote no records" >&2; exit 1; }
fi
if [[ $records != "$expected" ]]; then
  echo "device_groundtruth: the probe wrote $records records, expected $expected" >&2
  exit 1
fi
cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' | clean || true)
build='null'
if [[ -f $probe_dir/build.json ]]; then build=$(cat "$probe_dir/build.json"); fi
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
{
  printf '{\n "file": "%s",\n "records": %s,\n' "$name" "$records"
  printf ' "started": "%s",\n "finished": "%s",\n' "$started" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf ' "wall_s": %s,\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')"
  printf ' "command": "%s",\n' "$(printf 'OUT=%s GRID=%s REPEATS=%s TRACE=%s PROCS=%s GC_WINDOW=%s LIVE_WINDOW=%s LIVE_MIB=%s %s %s' \
    "$out_dir" "${grid_file:-}" "$rep_shown" "$trace" "$procs" "'$gc_warm $gc_dur'" "'$live_warm $live_dur'" "$live_mib" "$0" "$probe_dir" | clean)"
  printf ' "trace": %s,\n' "$([[ $trace == 1 ]] && echo "\"$name.trace.txt\"" || echo null)"
  printf ' "machine": {"uname": "%s", "cpus": %s, "cpu": "%s", "mem_kib": %s},\n' \
    "$(uname -a | clean)" "$ncpu" "$cpu" \
    "$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null || echo null)"
  printf ' "thp": "%s",\n' "$(clean < /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)"
  printf ' "git": "%s",\n "build": %s,\n "grid": %s\n}\n' "$revision" "$build" "$(cat "$tmp/grid.json")"
} > "$tmp/provenance.json"
if [[ $trace == 1 ]]; then mv "$tmp/trace.txt" "$dest.trace.txt"; fi
mv "$tmp/provenance.json" "$dest.provenance.json"
mv "$tmp/records.jsonl" "$dest"
echo "device_groundtruth: $records records in $dest (provenance: $dest.provenance.json)" >&2
