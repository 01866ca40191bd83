package io.gpupool.driver;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the tests' driver and kernels are. Surefire sets LD_LIBRARY_PATH for the forked
 * JVM to the built simulated driver and passes the directories as system properties
 * (java/cli/pom.xml); this fails clearly when the native module was not built.
 */
public final class SimulatedDriver {
  private SimulatedDriver() {}

  public static void requireBuilt() {
    String dir = System.getProperty("gpupool.test.libcuda.dir");
    if (dir != null && !dir.isEmpty() && !Files.exists(Path.of(dir, "libcuda.so.1"))) {
      fail(dir + "/libcuda.so.1 is missing: build the native module first (mvn -B verify, or"
          + " mvn -pl native compile)");
    }
  }

  public static Path kernelsDir() {
    String dir = System.getProperty("gpupool.kernels.dir");
    if (dir == null) {
      fail("system property gpupool.kernels.dir is not set (run the tests through Maven)");
    }
    return Path.of(dir);
  }

  public static Path ptx(String kernel) {
    Path file = kernelsDir().resolve(kernel + ".ptx");
    if (!Files.isRegularFile(file)) {
      fail(file + " is missing: build the native module first");
    }
    return file;
  }
}
