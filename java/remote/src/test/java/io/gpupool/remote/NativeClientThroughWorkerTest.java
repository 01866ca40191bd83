package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
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
      ProcessBuilder pb = new ProcessBuilder(exe.toString());
      Map<String, String> env = pb.environment();
      env.put("LD_LIBRARY_PATH", remoteLib.getParent().toString());
      env.put("GPUPOOL_REMOTE_WORKER", address);
      env.put("GPUPOOL_REMOTE_SECRET", hex);
      env.put("GPUPOOL_KERNELS_DIR", build.resolve("kernels").toString());
      env.put("GPUPOOL_TEST_REMOTE_DEVICE", "1"); // attributes of what only a local device can do: 0
      pb.redirectErrorStream(true);
      pb.redirectOutput(log);
      Process p = pb.start();
      boolean done = p.waitFor(120, TimeUnit.SECONDS);
      if (!done) p.destroyForcibly();
      String output = Files.readString(log.toPath());
      log.delete();
      assertEquals(0, done ? p.exitValue() : -1, program + " through the remote driver:\n" + output);
    } finally {
      if (!worker.waitFor(10, TimeUnit.SECONDS)) {
        worker.destroy();
        worker.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
