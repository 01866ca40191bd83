#!/usr/bin/env bash
# Measures what the gpupool shim adds per driver call (bench/shim/shim_overhead.cc):
# builds the native tree, then runs shim_overhead, which times cuLaunchKernel,
# cuMemAlloc+cuMemFree, cuMemcpyHtoDAsync and cuMemGetInfo without and with
# LD_PRELOAD=libgpupool-shim.so in the same run and writes a Markdown table.
#
# Usage: bench/shim/run.sh [OUT.md] [BUILD_DIR]
#   OUT.md     default bench/results/shim-overhead-sim.md
#   BUILD_DIR  default build/native
# Driver: the simulated one (BUILD_DIR/lib/sim) unless GPUPOOL_BENCH_REAL_DRIVER=1,
# which uses the system's libcuda.so.1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bench/results/shim-overhead-sim.md}
build=${2:-$root/build/native}
mkdir -p "$(dirname "$out")"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null

shim=$build/lib/libgpupool-shim.so
[ -f "$shim" ] || { echo "no $shim: the shim did not build" >&2; exit 1; }
if [ "${GPUPOOL_BENCH_REAL_DRIVER:-0}" = 1 ]; then
  driver="the system's libcuda.so.1"
else
  export LD_LIBRARY_PATH=$build/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  driver="the simulated driver ($build/lib/sim)"
fi
export GPUPOOL_KERNELS_DIR=$build/kernels
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
machine="$(uname -srm), ${cpu:-unknown CPU}, $(nproc) CPUs; driver: $driver; $(date -u +%Y-%m-%d)"
"$build/tests/shim_overhead" --shim "$shim" --out "$out" --reps "${REPS:-3}" \
  --machine "$machine" --command "bench/shim/run.sh${1:+ $1}"
echo "written: $out"
