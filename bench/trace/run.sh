#!/usr/bin/env bash
# Trace replay (issue 7): `gpupool simulate` on the Alibaba openb 2023 trace, static (the
# baseline, measured in the same run) against pooled, on the whole traced cluster and on smaller
# ones (the first N nodes of its node list), under the agent's strict FIFO and under the
# best-effort queue, plus fill mode on the multi-GPU list; and how long a replay of the
# 8,000-task list takes against the issue's target (under a minute on 2 cores).
#
#   bash bench/trace/run.sh [OUT_DIR]
#
# Writes OUT_DIR/trace-openb.md, trace-openb.html (whole cluster), trace-openb-16.html and
# trace-openb-24.html (16 and 24 nodes) (default OUT_DIR: bench/results). The trace is read
# from $GPUPOOL_TRACES_DIR (default: ../shared/traces beside the repository); without it the
# report says it was skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${1:-bench/results}"
mkdir -p "$out"
traces="${GPUPOOL_TRACES_DIR:-$root/../shared/traces}/alibaba-openb-2023"
report="$out/trace-openb.md"
if [ ! -f "$traces/openb_pod_list_default.csv" ]; then
  printf '# Trace replay\n\nSkipped: no trace at %s (set GPUPOOL_TRACES_DIR).\n' "$traces" > "$report"
  cat "$report"
  exit 0
fi

mvn -B -ntp -q -DskipTests install
gpupool="$root/dist/bin/gpupool"
nodes="$traces/openb_node_list_gpu_node.csv"
pods="$traces/openb_pod_list_default.csv"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

"$gpupool" simulate --trace "$pods" --nodes "$nodes" --html "$out/trace-openb.html" > "$logs/all.txt"
for n in 10 16 24; do
  html=()
  [ "$n" != 10 ] && html=(--html "$out/trace-openb-$n.html")
  "$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit "$n" "${html[@]}" > "$logs/nodes-$n.txt"
  "$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit "$n" --queue best-effort-fifo > "$logs/best-$n.txt"
done
"$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit 16 --demand whole > "$logs/whole-16.txt"
"$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit 16 --demand whole --queue best-effort-fifo \
  > "$logs/whole-best-16.txt"
# How much the 24-node result depends on chance: the same two 8-GPU nodes (rows 23 and 24 of the
# list) beside fewer or more of its 2-GPU P100 nodes (rows 1 to 22).
for k in 17 18 19 20 21 22; do
  { sed -n "1,$((k + 1))p" "$nodes"; sed -n '24,25p' "$nodes"; } > "$logs/nodes-p100-$k.csv"
  "$gpupool" simulate --trace "$pods" --nodes "$logs/nodes-p100-$k.csv" > "$logs/p100-$k.txt"
done
"$gpupool" simulate --trace "$traces/openb_pod_list_multigpu50.csv" --nodes "$nodes" > "$logs/fill.txt"

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)"
python3 bench/trace/report.py "$machine" "$logs" > "$report"
cat "$report"
