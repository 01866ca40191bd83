#!/usr/bin/env bash
# Remote GPU benchmarks (issue 5): JMH RemoteBenchmarks (java/bench) on the simulated driver,
# each remote figure beside its baseline from the same run, then the ratios as Markdown.
#
#   bash bench/remote/run.sh [OUT_DIR] [extra JMH options, e.g. -wi 1 -i 2]
#
# Writes OUT_DIR/remote-jmh.json and OUT_DIR/remote.md (default OUT_DIR: bench/results).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${1:-bench/results}"
shift || true
mkdir -p "$out"

mvn -B -ntp -q -DskipTests install
cp_file="$(mktemp)"
mvn -B -ntp -q -pl java/bench dependency:build-classpath -Dmdep.outputFile="$cp_file"
classpath="java/bench/target/classes:$(cat "$cp_file")"
rm -f "$cp_file"

native="$root/build/native"
LD_LIBRARY_PATH="$native/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  java -Dgpupool.home="$native" -Dgpupool.kernels.dir="$native/kernels" -cp "$classpath" \
  org.openjdk.jmh.Main RemoteBenchmarks -rf json -rff "$out/remote-jmh.json" "$@"

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p), simulated driver"
python3 bench/remote/report.py "$out/remote-jmh.json" "$machine" > "$out/remote.md"
cat "$out/remote.md"
