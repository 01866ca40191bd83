#!/usr/bin/env bash
# The gpupool shim on a real GPU with PyTorch (issue 3, "Real GPU").
#
# Builds the native tree (Release, no PTX check) against the system's driver, then:
#   1. runs bench/gpu/shim_pytorch_check.py under LD_PRELOAD=<build>/lib/libgpupool-shim.so
#      GPUPOOL_MEMORY_LIMIT=4GiB with a job key of its own, three times: PyTorch's default
#      allocator, PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True, and
#      PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync;
#   2. the shim-overhead benchmark on the real driver (shim-overhead-gpu.md);
#   3. the shim's ctest programs against the real driver (those not labelled sim_only),
#      with whatever time is left.
# Everything goes to OUTDIR (default: $OUT, else bench/results/gpu-shim). Needs: cmake, a
# C++17 compiler, python3 with torch (and nvidia-ml-py or nvidia-smi), an NVIDIA GPU; no
# network. Meant to finish in about 4 minutes.
#
# Usage: bench/gpu/shim-pytorch.sh [OUTDIR]
set -u
start=$(date +%s)
budget=${SHIM_GPU_BUDGET_S:-230}   # seconds for the whole script
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-$root/bench/results/gpu-shim}}
mkdir -p "$out"
exec > >(tee "$out/shim-pytorch.log") 2>&1
left() { echo $(( budget - ($(date +%s) - start) )); }

echo "== machine"
date -u
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 || echo "no torch"
cmake --version | sed -n 1,1p

echo "== build (Release, GPUPOOL_TEST_REAL_DRIVER=ON)"
build=$root/build/gpu-shim
mkdir -p "$root/build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGPUPOOL_CHECK_PTX=OFF \
         -DGPUPOOL_TEST_REAL_DRIVER=ON >"$out/build.log" 2>&1 &&
       cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1; }; then
  tail -n 40 "$out/build.log"; echo "== overall: FAIL (build)"; exit 1
fi
shim=$build/lib/libgpupool-shim.so
[ -f "$shim" ] || { echo "no $shim"; echo "== overall: FAIL (no shim)"; exit 1; }
echo "built in $(( $(date +%s) - start )) s: $shim"

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no NVIDIA GPU here (nvidia-smi -L failed): the build works; stopping before the GPU checks"
  echo "== overall: NO GPU"
  exit 3
fi
status=0

echo "== PyTorch under the shim, GPUPOOL_MEMORY_LIMIT=4GiB"
declare -A alloc_conf=(
  [default]=""
  [expandable_segments]="expandable_segments:True"
  [cudaMallocAsync]="backend:cudaMallocAsync")
for config in default expandable_segments cudaMallocAsync; do
  job="shim-pytorch-$config-$$"
  echo "-- $config (PYTORCH_CUDA_ALLOC_CONF=${alloc_conf[$config]})"
  env -u GPUPOOL_LOG -u GPUPOOL_VISIBLE_DEVICES \
      LD_PRELOAD="$shim" GPUPOOL_MEMORY_LIMIT=4GiB GPUPOOL_JOB="$job" \
      PYTORCH_CUDA_ALLOC_CONF="${alloc_conf[$config]}" \
      timeout 75 python3 "$root/bench/gpu/shim_pytorch_check.py" --config "$config" --limit 4GiB \
        --json "$out/pytorch-$config.json" > "$out/pytorch-$config.log" 2>&1
  rc=$?
  grep -E "^(PASS|FAIL)|info:|Error|error" "$out/pytorch-$config.log" | sed -n 1,30p
  echo "exit: $rc"
  [ $rc -eq 0 ] || status=1
  rm -f /dev/shm/gpupool-"$(id -u)"-"$job"*
done
if [ $status -ne 0 ]; then
  echo "-- diagnostics: the default configuration again with GPUPOOL_LOG=debug (pytorch-debug.log)"
  env LD_PRELOAD="$shim" GPUPOOL_MEMORY_LIMIT=4GiB GPUPOOL_JOB="shim-pytorch-debug-$$" GPUPOOL_LOG=debug \
    timeout 60 python3 -c 'import torch; print("mem_get_info", torch.cuda.mem_get_info(0)); \
print([l.split()[-1] for l in open("/proc/self/maps") if "libcuda" in l or "gpupool" in l or "cudart" in l])' \
    > "$out/pytorch-debug.log" 2>&1
  head -c 20000 "$out/pytorch-debug.log" > "$out/pytorch-debug-head.log"
  grep -c . "$out/pytorch-debug.log"; head -n 25 "$out/pytorch-debug.log"; tail -n 5 "$out/pytorch-debug.log"
  rm -f /dev/shm/gpupool-"$(id -u)"-shim-pytorch-debug-$$*
fi

echo "== shim overhead on the real driver"
if [ "$(left)" -gt 40 ]; then
  GPUPOOL_KERNELS_DIR=$build/kernels timeout 60 "$build/tests/shim_overhead" --shim "$shim" \
    --out "$out/shim-overhead-gpu.md" --reps 2 \
    --machine "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | sed -n 1,1p), $(nproc) CPUs" \
    --command "bench/gpu/shim-pytorch.sh" > "$out/shim-overhead.log" 2>&1 || status=1
  cat "$out/shim-overhead.log"
else
  echo "skipped: $(left) s left"
fi

echo "== shim ctest programs against the real driver"
t=$(( $(left) - 10 ))
if [ "$t" -gt 20 ]; then
  GPUPOOL_TEST_DEADLINE=50 timeout "$t" ctest --test-dir "$build" -L shim -j 4 --timeout 60 \
    --output-on-failure > "$out/ctest-shim-real-driver.log" 2>&1
  rc=$?
  grep -E "Test +#|tests passed|checks,|->|CHECK|REQUIRE|TIMEOUT|died" "$out/ctest-shim-real-driver.log" | sed -n 1,150p
  echo "ctest exit: $rc"
  [ $rc -eq 0 ] || status=1
else
  echo "skipped: $(left) s left"
fi
rm -f /dev/shm/gpupool-"$(id -u)"-*-$$ 2>/dev/null
echo "== took $(( $(date +%s) - start )) s"
echo "== overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
