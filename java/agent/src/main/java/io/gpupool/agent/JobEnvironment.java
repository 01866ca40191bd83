package io.gpupool.agent;

import io.gpupool.proto.v1.Admitted;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The environment a job's processes run in once admitted: the shim preloaded, the job's key,
 * its entry in the node table, its GPUs; the simulated driver where the agent runs on one.
 * Used by `gpupool run` for its command and by the agent for remote sessions' workers.
 */
public final class JobEnvironment {
  private JobEnvironment() {}

  /**
   * Rewrites {@code env} (a copy of the caller's environment) for the admitted job.
   *
   * @param home the install tree: {@code lib/libgpupool-shim.so}, {@code lib/sim/}
   */
  public static void apply(Map<String, String> env, Admitted admitted, Path home) {
    env.remove("CUDA_VISIBLE_DEVICES"); // grants name physical ordinals
    env.remove("GPUPOOL_MEMORY_LIMIT");
    env.keySet().removeIf(k -> k.startsWith("GPUPOOL_MEMORY_LIMIT_"));
    boolean useSim = "1".equals(admitted.getEnvironmentMap().get("GPUPOOL_USE_SIM"));
    admitted.getEnvironmentMap().forEach((k, v) -> {
      if (!k.equals("GPUPOOL_USE_SIM")) env.put(k, v);
    });
    if (useSim) {
      env.merge("LD_LIBRARY_PATH", home.resolve("lib/sim").toString(), (old, sim) -> sim + ":" + old);
    }
    env.merge("LD_PRELOAD", shim(home).toString(), (old, s) -> s + ":" + old);
    env.put("GPUPOOL_JOB", admitted.getJobKey());
    env.put("GPUPOOL_AGENT_TABLE", admitted.getTablePath());
    env.put("GPUPOOL_AGENT_ENTRY", Integer.toString(admitted.getTableEntry()));
    env.put("GPUPOOL_VISIBLE_DEVICES",
        admitted.getDevicesList().stream().map(String::valueOf).collect(Collectors.joining(",")));
  }

  public static Path shim(Path home) {
    return home.resolve("lib/libgpupool-shim.so");
  }
}
