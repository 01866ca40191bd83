package io.gpupool.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the built-in kernels' PTX files are (saxpy.ptx, vector_add.ptx, ...). */
final class KernelDirectory {
  /** Set by tests and by hand: a directory holding the *.ptx files. */
  static final String KERNELS_PROPERTY = "gpupool.kernels.dir";
  /** The same setting as an environment variable, as the native tests read it. */
  static final String KERNELS_ENV = "GPUPOOL_KERNELS_DIR";
  /** Set by dist/bin/gpupool: the install tree; kernels are in its lib/kernels. */
  static final String HOME_PROPERTY = "gpupool.home";

  private KernelDirectory() {}

  /**
   * The --kernels option if given, else -Dgpupool.kernels.dir, else $GPUPOOL_KERNELS_DIR,
   * else ${gpupool.home}/lib/kernels.
   */
  static Path resolve(Path option) {
    Path directory = option;
    if (directory == null && System.getProperty(KERNELS_PROPERTY) != null) {
      directory = Path.of(System.getProperty(KERNELS_PROPERTY));
    }
    String env = System.getenv(KERNELS_ENV);
    if (directory == null && env != null && !env.isEmpty()) {
      directory = Path.of(env);
    }
    if (directory == null && System.getProperty(HOME_PROPERTY) != null) {
      directory = Path.of(System.getProperty(HOME_PROPERTY), "lib", "kernels");
    }
    if (directory == null) {
      throw new IllegalStateException(
          "no kernels directory: pass --kernels DIR (run through dist/bin/gpupool to use dist/lib/kernels)");
    }
    if (!Files.isDirectory(directory)) {
      throw new IllegalStateException("kernels directory " + directory + " does not exist");
    }
    return directory;
  }

  static Path ptx(Path directory, String kernel) {
    Path file = directory.resolve(kernel + ".ptx");
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException("no PTX for kernel " + kernel + ": " + file + " is missing");
    }
    return file;
  }
}
