package io.gpupool.cli;

import io.gpupool.driver.DeviceBuffer;
import io.gpupool.driver.EventTimer;
import io.gpupool.driver.Kernel;
import io.gpupool.driver.Module;
import io.gpupool.driver.PrimaryContext;
import java.nio.file.Path;
import jcuda.Pointer;

/**
 * y = a*x + y on one device with the built-in saxpy kernel
 * ({@code saxpy(int n, float a, const float* x, float* y)}), checked on the host.
 */
final class Saxpy {
  static final String KERNEL = "saxpy";
  private static final int BLOCK = 256;

  /** maxError: the largest |device - host| over all elements. */
  record Result(int n, float maxError, float kernelMilliseconds) {}

  private Saxpy() {}

  static Result run(int ordinal, Path ptx, int n, float a) {
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (i % 1024) * 0.5f;
      y[i] = (i % 7) - 3.0f;
    }
    float[] result = new float[n];
    float milliseconds;
    try (PrimaryContext context = new PrimaryContext(ordinal);
        Module module = Module.load(ptx);
        DeviceBuffer dx = DeviceBuffer.of(x);
        DeviceBuffer dy = DeviceBuffer.of(y);
        EventTimer timer = new EventTimer(null)) {
      Kernel saxpy = module.kernel(KERNEL);
      Pointer parameters =
          Pointer.to(
              Pointer.to(new int[] {n}),
              Pointer.to(new float[] {a}),
              Pointer.to(dx.pointer()),
              Pointer.to(dy.pointer()));
      int grid = (n + BLOCK - 1) / BLOCK;
      milliseconds = timer.time(() -> saxpy.launch(grid, BLOCK, null, parameters));
      context.synchronize();
      dy.copyTo(result);
    }
    float maxError = 0;
    for (int i = 0; i < n; i++) {
      float expected = a * x[i] + y[i];
      maxError = Math.max(maxError, Math.abs(result[i] - expected));
    }
    return new Result(n, maxError, milliseconds);
  }
}
