# Sourced by the scripts/device_*.sh drivers: what each of them needs first.
# ncpu: the CPUs this process may run on, as Go's runtime.NumCPU counts them
# (nproc alone reports OMP_NUM_THREADS when that is set, as Dask's nanny sets
# it in the test workers). bad: refuse a setting with one line, exit status 2.
# shellcheck shell=bash
ncpu=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
bad() { echo "$(basename "$0" .sh): $1" >&2; exit 2; }
# prebuilt NAME [DIR]: the driver's prebuilt binary DIR/NAME (DIR defaults to
# build/device-probe), refused if missing; sets dir, bin and out_dir ($OUT,
# which must be set).
prebuilt() {
  dir=${2:-build/device-probe}
  out_dir=${OUT:?set OUT to the directory to write into}
  bin=$dir/$1
  [[ -x $bin ]] || bad "no $1 at $bin; build it first (see this script's header)"
}
