#!/usr/bin/env bash
# Runs the JCuda JUnit test (io.gpupool.driver.JCudaDriverApiTest) outside Maven,
# on a machine with no JDK or Maven: dist/jre, dist/lib/java and the compiled test
# classes in .gpurun/ (see bench/gpu/README.md). Tests tagged sim_only are
# excluded when USE_SIM=0 (the real driver).
#
# Usage: bench/gpu/jcuda-junit.sh [USE_SIM 0|1]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
use_sim=${1:-0}
cp=$(ls "$root"/dist/lib/java/*.jar | tr '\n' ':')"$root/.gpurun/test-classes"
java=$root/dist/jre/bin/java
[ -x "$java" ] || java=java
args=(execute --disable-banner --disable-ansi-colors --details=tree --class-path "$cp"
      --select-class io.gpupool.driver.JCudaDriverApiTest)
if [ "$use_sim" = 1 ]; then
  export LD_LIBRARY_PATH=$root/dist/lib/sim GPUPOOL_SIM_DEVICES=2 GPUPOOL_SIM_MEMORY=4GiB
  export "GPUPOOL_SIM_NAME=gpupool test GPU"
else
  args+=(--exclude-tag sim_only)
fi
exec "$java" -Dgpupool.kernels.dir="$root/dist/lib/kernels" \
  -jar "$root"/.gpurun/junit-platform-console-standalone-*.jar "${args[@]}"
