#!/usr/bin/env bash
# Time-slicing benchmarks (issue 6): two device-bound jobs sharing a GPU vs one alone, the
# switch cost per slice at shorter quanta, the gate's cost per kernel (a busy job beside an idle
# one vs alone), and (once the shim swaps) swap bandwidth vs plain copies. A real agent on
# simulated GPUs and spin_job (native/tests/spin_job.cc) through `gpupool run`; every figure is a
# ratio against a baseline measured in the same run (bench/timeslice/timeslice.py).
#
#   bash bench/timeslice/run.sh [OUT.md]      default bench/results/timeslice.md
#
# Builds dist/ first (mvn -DskipTests install; Maven options in MAVEN_OPTS). Takes about 2 minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${1:-bench/results/timeslice.md}"
mkdir -p "$(dirname "$out")"
mvn -B -ntp -q -DskipTests install
machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
python3 bench/timeslice/timeslice.py "$root/dist" "$machine" > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
