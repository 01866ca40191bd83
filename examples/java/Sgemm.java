// Sgemm.java — C = alpha*A*B + beta*C (row-major, naive kernel) from the gpupool Java API,
// checked against the same computation on the host (fused multiply-adds in the same order as
// the kernel; the compiler may fuse the final scaling too, so allow a rounding difference).
//
//   java -cp 'dist/lib/java/*' examples/java/Sgemm.java local:0 [dist/lib/kernels] [size]
//   java -cp 'dist/lib/java/*' examples/java/Sgemm.java 'gpupool://gpunode:7070?token=...'
import static io.gpupool.client.KernelArg.arg;

import io.gpupool.client.DeviceBuffer;
import io.gpupool.client.GpuPool;
import io.gpupool.client.LaunchConfig;
import io.gpupool.client.RemoteGpu;
import java.nio.file.Path;
import java.util.Random;

public class Sgemm {
  public static void main(String[] args) {
    String uri = args.length > 0 ? args[0] : "local:0";
    Path kernels = Path.of(args.length > 1 ? args[1] : "dist/lib/kernels");
    int size = args.length > 2 ? Integer.parseInt(args[2]) : 256;
    int m = size, n = size, k = size;
    float alpha = 1.5f, beta = 0.5f;
    Random random = new Random(7);
    float[] a = new float[m * k];
    float[] b = new float[k * n];
    float[] c = new float[m * n];
    for (int i = 0; i < a.length; i++) a[i] = random.nextFloat() - 0.5f;
    for (int i = 0; i < b.length; i++) b[i] = random.nextFloat() - 0.5f;
    for (int i = 0; i < c.length; i++) c[i] = random.nextFloat();
    float[] expected = new float[m * n];
    for (int row = 0; row < m; row++) {
      for (int col = 0; col < n; col++) {
        float acc = 0;
        for (int i = 0; i < k; i++) acc = Math.fma(a[row * k + i], b[i * n + col], acc);
        expected[row * n + col] = alpha * acc + beta * c[row * n + col];
      }
    }
    try (RemoteGpu gpu = GpuPool.connect(uri).acquire();
         DeviceBuffer da = gpu.allocate(4L * a.length);
         DeviceBuffer db = gpu.allocate(4L * b.length);
         DeviceBuffer dc = gpu.allocate(4L * c.length)) {
      da.copyFrom(a);
      db.copyFrom(b);
      dc.copyFrom(c);
      var kernel = gpu.loadModule(kernels.resolve("sgemm_nn.ptx")).function("sgemm_nn");
      long t0 = System.nanoTime(); // the launch and its completion, not the module load
      kernel.launch(LaunchConfig.grid((n + 15) / 16, (m + 15) / 16, 1).block(16, 16, 1),
              arg(m), arg(n), arg(k), arg(alpha), arg(da), arg(db), arg(beta), arg(dc));
      gpu.synchronize();
      double ms = (System.nanoTime() - t0) / 1e6;
      dc.copyTo(c);
      double maxError = 0;
      for (int i = 0; i < c.length; i++) maxError = Math.max(maxError, Math.abs(c[i] - expected[i]));
      boolean ok = maxError <= 1e-4;
      System.out.printf("sgemm %dx%dx%d on %s: %.3f ms (%.2f GFLOP/s), max error %.2e -> %s%n", m, n, k,
          gpu.device().name(), ms, 2.0 * m * n * k / (ms * 1e6), maxError, ok ? "OK" : "WRONG");
      System.exit(ok ? 0 : 1);
    }
  }
}
