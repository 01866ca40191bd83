#!/usr/bin/env bash
# Remote GPUs on a real GPU (issue 5): an agent on this machine's GPU serving remote sessions on
# loopback, then, as clients: the Java examples (saxpy, sgemm) through the Java API, the
# foundation's driver-API programs through the forwarding libcuda.so.1, and the native remote
# benchmark (a worker on the real GPU; baselines measured in the same run). Each client result is
# printed beside the same work done locally (local:0 / the real driver in-process).
#
# Usage: bench/gpu/remote-checks.sh [OUTDIR]   (default: bench/results/gpu-remote)
# Needs: dist/ built with `mvn -B -DskipTests -Pjre package` (carries a Java runtime with
# jdk.compiler for the single-file examples); cmake, g++, cuda.h to build the native programs.
# Here, without a GPU, GPUPOOL_USE_SIM=1 runs the same script on the simulated driver.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-$root/bench/results/gpu-remote}}
mkdir -p "$out"
exec > >(tee "$out/remote-checks.log") 2>&1
cd "$root"

gp="$root/dist/bin/gpupool"
java="$root/dist/jre/bin/java"
[ -x "$java" ] || java=java
status=0
echo "== machine"
date -u
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"

echo "== native build (driver-API programs, the forwarding driver, the native benchmark)"
build="$root/build/gpu-remote"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGPUPOOL_CHECK_PTX=OFF > "$build.configure.log" 2>&1 &&
       cmake --build "$build" -j "$(nproc)" > "$build.build.log" 2>&1; }; then
  echo "native build failed"; tail -n 40 "$build.configure.log" "$build.build.log"; exit 1
fi

state=$(mktemp -d)
token=$("$gp" token create --state "$state" --name gpu-check)
sim_args=()
if [ "${GPUPOOL_USE_SIM:-0}" = 1 ]; then sim_args=(--sim 1); fi
"$gp" agent "${sim_args[@]}" --socket "$state/agent.sock" --http off --state "$state" --listen 127.0.0.1:0 \
  > "$out/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 600); do grep -q "remote sessions:" "$out/agent.log" && break; sleep 0.1; done
remote=$(sed -n 's/^remote sessions: \([^ ]*\).*/\1/p' "$out/agent.log")
cat "$out/agent.log"
[ -n "$remote" ] || { echo "the agent did not start"; exit 1; }
uri="gpupool://$remote?token=$token&name=gpu-check"
local_env=()
if [ "${GPUPOOL_USE_SIM:-0}" = 1 ]; then local_env=(env LD_LIBRARY_PATH="$root/dist/lib/sim"); fi

echo "== Java examples: in-process (local:0) vs. a pooled GPU through the agent"
for ex in Saxpy Sgemm; do
  size=1024; [ "${GPUPOOL_USE_SIM:-0}" = 1 ] && size=128
  for where in local:0 "$uri"; do
    if [ "$where" = local:0 ]; then
      "${local_env[@]}" "$java" -cp "$root/dist/lib/java/*" "examples/java/$ex.java" "$where" dist/lib/kernels "$size" || status=1
    else
      "$java" -cp "$root/dist/lib/java/*" "examples/java/$ex.java" "$where" dist/lib/kernels "$size" || status=1
    fi
  done
done

echo "== the foundation's driver-API programs through the forwarding driver"
# test_memory (host memory mapped into the device), test_stream_event (host callbacks) and
# test_vmm (virtual memory management) use what a remote session cannot give.
for p in test_init_version test_device test_context test_memcpy test_module_launch test_errors test_async_errors test_proc_address; do
  if LD_LIBRARY_PATH="$root/dist/lib/remote" GPUPOOL_REMOTE="$remote" GPUPOOL_TOKEN="$token" GPUPOOL_JOB_NAME="$p" \
     GPUPOOL_KERNELS_DIR="$root/dist/lib/kernels" "$build/tests/$p" > "$out/$p.log" 2>&1; then
    echo "PASS $p ($(tail -n 1 "$out/$p.log"))"
  else
    echo "FAIL $p"; tail -n 20 "$out/$p.log"; status=1
  fi
done

echo "== native benchmark: in-process vs. through the forwarding driver"
export GPUPOOL_KERNELS_DIR="$root/dist/lib/kernels"
"${local_env[@]}" "$build/tests/native_remote_bench" | tee "$out/remote-native-local.txt"
LD_LIBRARY_PATH="$root/dist/lib/remote" GPUPOOL_REMOTE="$remote" GPUPOOL_TOKEN="$token" GPUPOOL_JOB_NAME=native-bench \
  "$build/tests/native_remote_bench" | tee "$out/remote-native-remote.txt" || status=1

kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null
# This agent is gone for good: its node table (which outlives agents on purpose) goes too.
table=$(sed -n 's/.*node table \([^;]*\);.*/\1/p' "$out/agent.log")
[ -n "$table" ] && rm -f "$table"
rm -rf "$state"
echo "remote-checks exit: $status"
exit $status
