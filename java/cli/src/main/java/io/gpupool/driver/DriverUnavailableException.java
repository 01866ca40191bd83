package io.gpupool.driver;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The CUDA driver library (libcuda.so.1) or JCuda's JNI library could not be loaded. */
public final class DriverUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  // JCuda folds the loader's messages, stack traces included, into one message; the
  // last UnsatisfiedLinkError line says what the dynamic loader missed.
  private static final Pattern LOADER_ERROR =
      Pattern.compile("UnsatisfiedLinkError: ([^\\n]*cannot open shared object file[^\\n]*)");

  DriverUnavailableException(Throwable cause) {
    super("cannot load the CUDA driver: " + loaderError(cause)
        + " (LD_LIBRARY_PATH=" + System.getenv().getOrDefault("LD_LIBRARY_PATH", "") + ")."
        + " Without a GPU, use the simulated driver: build it (mvn -DskipTests package) and run"
        + " through dist/bin/gpupool, or put dist/lib/sim on LD_LIBRARY_PATH", cause);
  }

  private static String loaderError(Throwable t) {
    String found = null;
    for (Throwable c = t; c != null; c = c.getCause()) {
      String message = String.valueOf(c.getMessage());
      Matcher m = LOADER_ERROR.matcher(message);
      while (m.find()) {
        found = m.group(1);
      }
      if (found == null && c.getCause() == null) {
        found = c + "";
      }
    }
    return found;
  }
}
