package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What the command does without touching the driver: usage errors and version. */
class UsageTest {
  @Test
  void version() {
    GpupoolRun run = GpupoolRun.of("version");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().matches("(?s)gpupool \\d+\\.\\d+\\.\\d+.*"), run.out());
  }

  @Test
  void unknownCommandIsAUsageError() {
    GpupoolRun run = GpupoolRun.of("frobnicate");
    assertEquals(2, run.exitCode());
    assertTrue(run.err().contains("frobnicate"), run.err());
  }

  @Test
  void unknownOptionIsAUsageError() {
    GpupoolRun run = GpupoolRun.of("devices", "--jsn");
    assertEquals(2, run.exitCode());
    assertTrue(run.err().contains("--jsn"), run.err());
  }

  @Test
  void noCommandIsAUsageError() {
    GpupoolRun run = GpupoolRun.of();
    assertEquals(2, run.exitCode());
    assertTrue(run.err().contains("Missing command"), run.err());
    assertTrue(run.err().contains("Usage: gpupool"), run.err());
  }

  @Test
  void demoWithoutKernelsFailsClearly() {
    GpupoolRun run = GpupoolRun.of("demo", "--kernels", "/nonexistent/kernels");
    assertEquals(1, run.exitCode());
    assertTrue(run.err().contains("/nonexistent/kernels does not exist"), run.err());
  }
}
