#!/usr/bin/env bash
# Trace replay (issue 7): `gpupool simulate` on the Alibaba openb 2023 trace, static (the
# baseline, measured in the same run) against pooled, on the whole traced cluster and on smaller
# ones (the first N nodes of its node list), plus fill mode on the multi-GPU list; and how long a
# replay of the 8,000-task list takes against the issue's target (under a minute on 2 cores).
#
#   bash bench/trace/run.sh [OUT_DIR]
#
# Writes OUT_DIR/trace-openb.md, trace-openb.html (whole cluster) and trace-openb-16.html
# (16 nodes) (default OUT_DIR: bench/results). The trace is read from $GPUPOOL_TRACES_DIR
# (default: ../shared/traces beside the repository); without it the report says it was skipped.
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
  [ "$n" = 16 ] && html=(--html "$out/trace-openb-16.html")
  "$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit "$n" "${html[@]}" > "$logs/nodes-$n.txt"
done
"$gpupool" simulate --trace "$pods" --nodes "$nodes" --node-limit 16 --demand whole > "$logs/whole-16.txt"
"$gpupool" simulate --trace "$traces/openb_pod_list_multigpu50.csv" --nodes "$nodes" > "$logs/fill.txt"

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)"
python3 bench/trace/report.py "$machine" "$logs" > "$report"
cat "$report"
