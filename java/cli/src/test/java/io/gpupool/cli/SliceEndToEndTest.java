package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.DeviceShare;
import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.Status;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Time slicing end to end: a real {@code gpupool agent --sim 2}, jobs through real
 * {@code gpupool run} processes, the shim's gate and the sim under {@code spin_job}
 * (native/tests/spin_job.cc), a loop of spin kernels or graphs timed with events.
 *
 * <p>Shares are measured from the device time the agent reports per job (the shim's events
 * around each gated operation), over a window where every job of the device is running and
 * contending: after each has device time, until the device's jobs together used 10 s more. Each
 * job process has its own simulated device, so nothing but the gate keeps their work apart, and
 * a kernel's device time is its time on that device whatever the machine's load (which only
 * stretches kernels: it changes how long a slice's kernels take, not what the agent charges).
 */
class SliceEndToEndTest {
  private static final double WINDOW_SECONDS = 10;
  private static final String SPIN_2MS = "2000000";

  @TempDir Path dir;
  private SliceAgent agent;

  @AfterEach
  void stop() throws Exception {
    if (agent != null) agent.close();
  }

  private static List<String> job(String name, int weight) {
    return List.of("--name", name, "--weight", Integer.toString(weight), "--memory", "2GiB");
  }

  /**
   * Starts four spin jobs, two per GPU (4 GiB each, 2 GiB per job: the first pair fills one GPU,
   * so the second pair goes to the other), and checks each job's share of its GPU's device time.
   */
  private void sharesFollowWeights(Map<String, Integer> first, Map<String, Integer> second, String... spin)
      throws Exception {
    agent = SliceAgent.start(dir, List.of(), Map.of());
    Map<String, Integer> weights = new LinkedHashMap<>(first);
    weights.putAll(second);
    List<String> names = List.copyOf(weights.keySet());
    // One at a time until the first GPU is full: placement is best fit.
    for (String name : names.subList(0, 2)) {
      agent.spin(job(name, weights.get(name)), spin);
      agent.awaitStatus(name + " runs", s -> SliceAgent.running(s, name));
    }
    for (String name : names.subList(2, 4)) agent.spin(job(name, weights.get(name)), spin);
    Status start = agent.awaitStatus("every job has device time on a gated GPU", s -> {
      if (!SliceAgent.running(s, names.toArray(String[]::new))) return false;
      for (String n : names) {
        if (SliceAgent.deviceSeconds(s, n) < 0.2) return false;
        if (!SliceAgent.device(s, SliceAgent.deviceOf(s, n)).getSlicing().equals("gated")) return false;
      }
      return true;
    });
    int gpu = SliceAgent.deviceOf(start, names.get(0));
    assertEquals(gpu, SliceAgent.deviceOf(start, names.get(1)), start.toString());
    assertEquals(1 - gpu, SliceAgent.deviceOf(start, names.get(2)), start.toString());
    assertEquals(1 - gpu, SliceAgent.deviceOf(start, names.get(3)), start.toString());

    Status end = agent.awaitStatus(WINDOW_SECONDS + " s of device time on each GPU", s ->
        used(start, s, names.get(0)) + used(start, s, names.get(1)) >= WINDOW_SECONDS
            && used(start, s, names.get(2)) + used(start, s, names.get(3)) >= WINDOW_SECONDS);
    StringBuilder report = new StringBuilder();
    for (int pair = 0; pair < 2; pair++) {
      String a = names.get(2 * pair);
      String b = names.get(2 * pair + 1);
      double total = used(start, end, a) + used(start, end, b);
      for (String n : List.of(a, b)) {
        double share = used(start, end, n) / total;
        double target = (double) weights.get(n) / (weights.get(a) + weights.get(b));
        report.append(String.format("%s: %.4f of %.2f s (target %.4f); ", n, share, total, target));
      }
    }
    System.out.println("shares: " + report);
    for (int pair = 0; pair < 2; pair++) {
      String a = names.get(2 * pair);
      String b = names.get(2 * pair + 1);
      double total = used(start, end, a) + used(start, end, b);
      for (String n : List.of(a, b)) {
        double target = (double) weights.get(n) / (weights.get(a) + weights.get(b));
        double share = used(start, end, n) / total;
        assertTrue(Math.abs(share - target) <= 0.05 * target, "shares not within 5% of target: " + report);
      }
      // The agent's own view of the GPU: its mode and each job's weight's share.
      DeviceStatus d = SliceAgent.device(end, SliceAgent.deviceOf(end, a));
      assertEquals("gated", d.getSlicing());
      for (DeviceShare ds : d.getSharesList()) {
        String n = ds.getJobId() == SliceAgent.job(end, a).getJobId() ? a : b;
        assertEquals((double) weights.get(n) / (weights.get(a) + weights.get(b)), ds.getTargetShare(), 1e-9, d.toString());
      }
    }
  }

  private static double used(Status from, Status to, String name) {
    return SliceAgent.deviceSeconds(to, name) - SliceAgent.deviceSeconds(from, name);
  }

  @Test
  void spinKernelJobsShareAGpuByWeightOneToOneAndOneToThree() throws Exception {
    sharesFollowWeights(Map.of("even-a", 100, "even-b", 100), orderedPair("light", 100, "heavy", 300),
        "--spin-ns", SPIN_2MS, "--wall-seconds", "300");
  }

  @Test
  void graphLaunchesShareAGpuByWeightLikeKernels() throws Exception {
    // Each launch is a graph of four 0.5 ms spins: the graph is gated, not its kernels.
    sharesFollowWeights(orderedPair("g-light", 100, "g-heavy", 300), Map.of("g-even-a", 100, "g-even-b", 100),
        "--graph", "4", "--spin-ns", "500000", "--wall-seconds", "300");
  }

  private static Map<String, Integer> orderedPair(String a, int wa, String b, int wb) {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put(a, wa);
    m.put(b, wb);
    return m;
  }
}
