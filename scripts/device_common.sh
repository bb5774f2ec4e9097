# Sourced by the scripts/device_*.sh drivers: what each of them needs first.
# ncpu: the CPUs this process may run on, as Go's runtime.NumCPU counts them
# (nproc alone reports OMP_NUM_THREADS when that is set, as Dask's nanny sets
# it in the test workers). bad: refuse a setting with one line, exit status 2.
# shellcheck shell=bash
ncpu=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
bad() { echo "$(basename "$0" .sh): $1" >&2; exit 2; }
