#!/usr/bin/env bash
# Builds the native tree on a machine with a real NVIDIA GPU and runs the
# foundation's ctest programs twice from the same sources: against the real
# driver (sim_only tests excluded) and against the simulated driver. A check
# that passes on the sim and fails on the GPU is a sim bug.
#
# It also runs `gpupool devices` and `gpupool demo` from dist/ when present
# (build it with `mvn -DskipTests -Pjre package` to carry a Java runtime along),
# and the JCuda JUnit test through bench/gpu/jcuda-junit.sh when .gpurun/ holds the
# test classes and JUnit's console launcher (bench/gpu/README.md).
#
# Usage: bench/gpu/foundation-checks.sh [OUTDIR]   (default: bench/results/gpu)
# Needs: cmake, a C++17 compiler, python3, cuda.h; nvidia-smi and libcuda.so.1
# for the real-driver half.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-$root/bench/results/gpu}}
mkdir -p "$out"
log=$out/foundation-checks.log
exec > >(tee "$log") 2>&1

echo "== machine"
date -u
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
(command -v nvcc >/dev/null && nvcc --version | tail -n 2) || echo "no nvcc"
cmake --version | sed -n 1,1p
jobs=$(nproc)

build() {  # build DIR extra-cmake-args...
  local dir=$1; shift
  mkdir -p "$(dirname "$dir")"
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGPUPOOL_CHECK_PTX=OFF "$@" >"$dir.configure.log" 2>&1 &&
    cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1
}

status=0
echo "== real driver"
if build "$root/build/gpu-real" -DGPUPOOL_TEST_REAL_DRIVER=ON; then
  ctest --test-dir "$root/build/gpu-real" -V --timeout 180 -LE sim_only > "$out/ctest-real-driver.log" 2>&1
  real_rc=$?
  grep -E "checks,|Test +#|tests passed|FAILED|->" "$out/ctest-real-driver.log" | grep -v "^ *$" | tail -n 200
  echo "real driver ctest exit: $real_rc"
  [ $real_rc -eq 0 ] || status=1
else
  echo "build failed:"; tail -n 40 "$root/build/gpu-real.configure.log" "$root/build/gpu-real.build.log"; status=1
fi

echo "== simulated driver (same sources, same machine)"
if build "$root/build/gpu-sim"; then
  ctest --test-dir "$root/build/gpu-sim" --timeout 180 > "$out/ctest-sim.log" 2>&1
  sim_rc=$?
  tail -n 30 "$out/ctest-sim.log"
  echo "sim ctest exit: $sim_rc"
  [ $sim_rc -eq 0 ] || status=1
else
  echo "build failed:"; tail -n 40 "$root/build/gpu-sim.build.log"; status=1
fi
echo "== gpupool CLI from dist/ (JCuda), if carried"
if [ -x "$root/dist/bin/gpupool" ]; then
  for mode in 0 1; do
    echo "-- GPUPOOL_USE_SIM=$mode"
    GPUPOOL_USE_SIM=$mode "$root/dist/bin/gpupool" devices || status=1
    GPUPOOL_USE_SIM=$mode "$root/dist/bin/gpupool" demo || status=1
  done
else
  echo "dist/bin/gpupool not present: skipped"
fi
echo "== JCuda JUnit test outside Maven, if .gpurun/ is carried"
if [ -d "$root/.gpurun/test-classes" ] && [ -x "$root/dist/bin/gpupool" ]; then
  for mode in 0 1; do
    echo "-- USE_SIM=$mode"
    bash "$root/bench/gpu/jcuda-junit.sh" $mode > "$out/junit-use-sim-$mode.log" 2>&1 || status=1
    grep -E "tests (successful|failed|found)|✘" "$out/junit-use-sim-$mode.log"
  done
else
  echo ".gpurun/ not present: skipped"
fi
echo "== overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
