package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Status;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Oversubscription end to end: {@code gpupool agent --oversubscribe} on 512 MiB simulated GPUs,
 * two spin jobs whose 384 MiB quotas do not fit together, each holding 320 MiB of its own data.
 * Each slice needs the other job swapped out; both must finish with every byte intact and their
 * pointers valid (spin_job's --bytes check), and the agent must report the swapping.
 */
class SliceSwapEndToEndTest {
  @TempDir Path dir;
  private SliceAgent agent;

  @AfterEach
  void stop() throws Exception {
    if (agent != null) agent.close();
  }

  @Test
  void jobsThatDoNotFitTogetherBothFinishWithTheirDataIntact() throws Exception {
    agent = SliceAgent.start(dir, List.of("--oversubscribe"), Map.of("GPUPOOL_SIM_MEMORY", "512MiB"));
    List<String> names = List.of("swap-a", "swap-b");
    Map<String, JavaProcess> jobs = new HashMap<>();
    for (String name : names) {
      jobs.put(name, agent.spin(List.of("--name", name, "--memory", "384MiB"), "--bytes", "320MiB", "--spin-ns",
          "2000000", "--device-seconds", "3", "--no-hold")); // --no-hold: spin_job_options.h
      agent.awaitStatus(name + " runs", s -> SliceAgent.running(s, name));
    }
    Status both = agent.status();
    int gpu = SliceAgent.deviceOf(both, "swap-a");
    assertEquals(gpu, SliceAgent.deviceOf(both, "swap-b"), both.toString());
    assertTrue(SliceAgent.device(both, gpu).getOversubscribed(), both.toString());

    // The agent's swapped-bytes counters, seen while the jobs run (they leave the status at exit).
    Map<String, Long> swapped = new HashMap<>();
    while (jobs.values().stream().anyMatch(j -> j.process.isAlive())) {
      Status s = agent.status();
      for (String n : names) {
        s.getJobsList().stream().filter(j -> j.getName().equals(n) && j.getSwappedBytesCount() == 1)
            .forEach(j -> swapped.merge(n, j.getSwappedBytes(0), Math::max));
      }
      Thread.sleep(100);
    }
    for (String n : names) {
      JavaProcess job = jobs.get(n);
      String summary = job.awaitOut(l -> l.startsWith("summary "));
      assertEquals("ok", SpinLine.parse(summary).text("verify"), n + ": " + summary);
      assertEquals(0, job.waitFor(), n + ": " + job.drainErr());
      assertTrue(swapped.getOrDefault(n, 0L) > 0, n + " was never swapped: " + swapped);
    }
  }
}
