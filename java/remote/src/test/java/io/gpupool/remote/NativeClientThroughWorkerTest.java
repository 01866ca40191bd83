package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The foundation's driver-API ctest programs (native/tests), unmodified, against a worker through
 * the forwarding libcuda (native/remote, {@code <build>/lib/remote/libcuda.so.1}): each program
 * gets its own WorkerMain process on the simulated driver and must exit 0.
 *
 * <p>All of them run: host functions, VMM and stream-ordered allocation are forwarded; where a
 * remote device cannot do what a local one does (map this process's host memory, managed
 * memory), the library reports it through the device attributes and the programs check the
 * documented behaviour of such a device.
 *
 * The native build directory is the parent of {@code gpupool.kernels.dir} (surefire sets it).
 */
class NativeClientThroughWorkerTest {
  static Path nativeBuild() {
    String kernels = System.getProperty("gpupool.kernels.dir");
    assumeTrue(kernels != null, "gpupool.kernels.dir is not set");
    return Path.of(kernels).toAbsolutePath().getParent();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "test_init_version",
        "test_device",
        "test_context",
        "test_memory",
        "test_memcpy",
        "test_stream_event",
        "test_module_launch",
        "test_errors",
        "test_async_errors",
        "test_proc_address",
        "test_vmm"
      })
  void programPassesThroughTheRemoteDriver(String program) throws Exception {
    Run run = runThroughWorker(program, Map.of());
    assertEquals(0, run.exit(), program + " through the remote driver:\n" + run.output());
  }

  /** With GPUPOOL_REMOTE_SPIN_US=0 every wait blocks at once: the calls still work the same. */
  @ParameterizedTest
  @ValueSource(strings = {"test_context", "test_memcpy", "test_stream_event", "test_async_errors"})
  void programPassesWithBlockingWaits(String program) throws Exception {
    Run run = runThroughWorker(program, Map.of("GPUPOOL_REMOTE_SPIN_US", "0"));
    assertEquals(0, run.exit(), program + " with GPUPOOL_REMOTE_SPIN_US=0:\n" + run.output());
  }

  /**
   * A call waits for its reply as the driver waits for the GPU under the context's
   * CU_CTX_SCHED_* flag (native/remote/wait_policy.h), counted by remote_wait_probe's own
   * poll and sched_yield: spin and auto (one context, at least one processor) look at the
   * socket without yielding, yield yields between looks, blocking-sync never looks, and a
   * spin limit of 0 makes every wait block.
   */
  @ParameterizedTest
  @CsvSource({
    "auto,     '',  true,  false",
    "spin,     '',  true,  false",
    "yield,    '',  true,  true",
    "blocking, '',  false, false",
    "spin,     0,   false, false",
    "yield,    0,   false, false",
    "spin,     50,  true,  false"
  })
  void repliesAreAwaitedAsTheContextsSchedulingFlagSays(
      String flag, String spinMicros, boolean looks, boolean yields) throws Exception {
    Map<String, String> env = spinMicros.isEmpty() ? Map.of() : Map.of("GPUPOOL_REMOTE_SPIN_US", spinMicros);
    Run run = runThroughWorker("remote_wait_probe", env, flag);
    assertEquals(0, run.exit(), "remote_wait_probe " + flag + ":\n" + run.output());
    Matcher m = Pattern.compile("polls (\\d+) yields (\\d+)").matcher(run.output());
    assertTrue(m.find(), run.output());
    long polls = Long.parseLong(m.group(1));
    long yieldCount = Long.parseLong(m.group(2));
    assertEquals(looks, polls > 0, "zero-timeout polls: " + run.output());
    assertEquals(yields, yieldCount > 0, "sched_yield calls: " + run.output());
  }

  @Test
  void aBadSpinLimitFailsCuInitAndSaysWhy() throws Exception {
    Run run = runThroughWorker("test_init_version", Map.of("GPUPOOL_REMOTE_SPIN_US", "2ms"));
    assertNotEquals(0, run.exit(), run.output());
    assertTrue(
        run.output().contains("GPUPOOL_REMOTE_SPIN_US=2ms is not a whole number of microseconds"), run.output());
  }

  record Run(int exit, String output) {}

  /** {@code program} (in the native build's tests) with {@code args}, attached to a worker of its own. */
  static Run runThroughWorker(String program, Map<String, String> extraEnv, String... args) throws Exception {
    Path build = nativeBuild();
    Path remoteLib = build.resolve("lib/remote/libcuda.so.1");
    Path exe = build.resolve("tests").resolve(program);
    assumeTrue(Files.exists(remoteLib), remoteLib + " is not built");
    assumeTrue(Files.isExecutable(exe), exe + " is not built");

    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    String hex = HexFormat.of().formatHex(secret);

    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder wpb =
        new ProcessBuilder(
            java, "-cp", System.getProperty("java.class.path"), WorkerMain.class.getName(),
            "--bind", "127.0.0.1");
    // The worker inherits this JVM's LD_LIBRARY_PATH: the simulated driver.
    wpb.environment().put("GPUPOOL_WORKER_SECRET", hex);
    wpb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process worker = wpb.start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      assertNotNull(line, "the worker printed nothing");
      String prefix = "gpupool-worker listening ";
      assumeTrue(line.startsWith(prefix), "unexpected worker output: " + line);
      String address = line.substring(prefix.length()).trim();

      File log = Files.createTempFile("gpupool-remote-" + program, ".log").toFile();
      List<String> command = new ArrayList<>(List.of(exe.toString()));
      command.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(command);
      Map<String, String> env = pb.environment();
      env.put("LD_LIBRARY_PATH", remoteLib.getParent().toString());
      env.put("GPUPOOL_REMOTE_WORKER", address);
      env.put("GPUPOOL_REMOTE_SECRET", hex);
      env.put("GPUPOOL_KERNELS_DIR", build.resolve("kernels").toString());
      env.put("GPUPOOL_TEST_REMOTE_DEVICE", "1"); // attributes of what only a local device can do: 0
      env.putAll(extraEnv);
      pb.redirectErrorStream(true);
      pb.redirectOutput(log);
      Process p = pb.start();
      boolean done = p.waitFor(120, TimeUnit.SECONDS);
      if (!done) p.destroyForcibly();
      String output = Files.readString(log.toPath());
      log.delete();
      return new Run(done ? p.exitValue() : -1, output);
    } finally {
      if (!worker.waitFor(10, TimeUnit.SECONDS)) {
        worker.destroy();
        worker.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
