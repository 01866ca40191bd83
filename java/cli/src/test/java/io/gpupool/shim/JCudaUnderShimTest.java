package io.gpupool.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * JCuda under the shim: a child JVM started with LD_PRELOAD=libgpupool-shim.so and
 * GPUPOOL_MEMORY_LIMIT=1GiB ({@link ShimChild}) sees 1 GiB as the device's memory
 * (cuMemGetInfo, cuDeviceTotalMem), gets 768 MiB, and gets CUDA_ERROR_OUT_OF_MEMORY for 512
 * MiB more. JCuda's JNI library loads libcuda.so.1 into a scope of its own, which is the case
 * the shim must handle by opening the driver itself. The shim's path comes from the system
 * property gpupool.test.shim.lib (java/cli/pom.xml); the driver is the simulated one unless
 * the real-driver profile is active.
 */
class JCudaUnderShimTest {
  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;

  @Test
  void jcudaSeesTheQuotaAndGetsOutOfMemoryAtIt() throws Exception {
    Path shim = shimLibrary();
    String job = "junit-shim-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    try {
      Result r = runChild(shim, job);
      String context = "child exit " + r.exitCode + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
      assertEquals(0, r.exitCode, context);
      Map<String, String> v = r.values();
      assertEquals("done", r.out.lines().reduce((a, b) -> b).orElse(""), context);
      assertEquals("CUDA_SUCCESS", v.get("cuMemGetInfo"), context);
      assertEquals(String.valueOf(GIB), v.get("total"), "cuMemGetInfo total\n" + context);
      assertEquals(String.valueOf(GIB), v.get("free"), "cuMemGetInfo free\n" + context);
      assertEquals("CUDA_SUCCESS", v.get("cuDeviceTotalMem"), context);
      assertEquals(String.valueOf(GIB), v.get("deviceTotal"), "cuDeviceTotalMem\n" + context);
      assertEquals("CUDA_SUCCESS", v.get("alloc768"), context);
      assertEquals(String.valueOf(GIB - 768 * MIB), v.get("freeAfter768"), context);
      assertEquals("CUDA_ERROR_OUT_OF_MEMORY", v.get("alloc512"), context);
      assertEquals("CUDA_SUCCESS", v.get("free768"), context);
      assertEquals("CUDA_SUCCESS", v.get("alloc512AfterFree"), context);
      assertTrue(r.err.isEmpty() || !r.err.contains("gpupool"),
          "the shim printed without GPUPOOL_LOG\n" + context);
    } finally {
      removeRegions(job);
    }
  }

  private static Path shimLibrary() {
    String lib = System.getProperty("gpupool.test.shim.lib");
    if (lib == null || lib.isEmpty()) {
      fail("system property gpupool.test.shim.lib is not set (run the tests through Maven)");
    }
    Path path = Path.of(lib);
    if (!Files.isRegularFile(path)) {
      fail(path + " is missing: build the native module first (mvn -B verify)");
    }
    return path;
  }

  private record Result(int exitCode, String out, String err) {
    Map<String, String> values() {
      Map<String, String> m = new LinkedHashMap<>();
      out.lines().filter(l -> l.contains("=")).forEach(l -> {
        int eq = l.indexOf('=');
        m.put(l.substring(0, eq), l.substring(eq + 1));
      });
      return m;
    }
  }

  private static Result runChild(Path shim, String job) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // Surefire's own class path property has the test classes and JCuda even when the
    // forked JVM was started from a manifest-only jar.
    String classPath = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>(List.of(java, "-cp", classPath, ShimChild.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(command);
    Map<String, String> env = pb.environment();
    env.put("LD_PRELOAD", shim.toString());
    String simDir = System.getProperty("gpupool.test.libcuda.dir");
    if (simDir != null && !simDir.isEmpty()) {
      env.put("LD_LIBRARY_PATH", simDir);
    }
    env.put("GPUPOOL_MEMORY_LIMIT", "1GiB");
    env.put("GPUPOOL_JOB", job);
    env.remove("GPUPOOL_LOG");
    env.remove("GPUPOOL_VISIBLE_DEVICES");
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("the child JVM under the shim did not finish in 120 s\nstdout:\n"
          + out.getNow("") + "\nstderr:\n" + err.getNow(""));
    }
    return new Result(p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
  }

  private static String read(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(" + e + ")";
    }
  }

  /** The job's region is /dev/shm/gpupool-(uid)-(job): removed whatever the uid. */
  private static void removeRegions(String job) throws IOException {
    Path shm = Path.of("/dev/shm");
    if (!Files.isDirectory(shm)) {
      return;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(shm, "gpupool-*-" + job + "*")) {
      for (Path f : files) {
        Files.deleteIfExists(f);
      }
    }
  }
}
