// Saxpy.java — y = a*x + y on a GPU from the gpupool Java API, checked on the host.
//
//   java -cp 'dist/lib/java/*' examples/java/Saxpy.java local:0 [dist/lib/kernels]
//   java -cp 'dist/lib/java/*' examples/java/Saxpy.java 'gpupool://gpunode:7070?token=...&memory=1GiB'
//
// The same code runs in-process on this machine's GPU (local:N) or on a pooled one. Exits 1 if
// any element is wrong.
import static io.gpupool.client.KernelArg.arg;

import io.gpupool.client.DeviceBuffer;
import io.gpupool.client.GpuPool;
import io.gpupool.client.LaunchConfig;
import io.gpupool.client.RemoteGpu;
import java.nio.file.Path;

public class Saxpy {
  public static void main(String[] args) {
    String uri = args.length > 0 ? args[0] : "local:0";
    Path kernels = Path.of(args.length > 1 ? args[1] : "dist/lib/kernels");
    int n = 1 << 22;
    float a = 2.0f;
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i % 1000;
      y[i] = 1.0f;
    }
    try (RemoteGpu gpu = GpuPool.connect(uri).acquire();
         DeviceBuffer dx = gpu.allocate(4L * n);
         DeviceBuffer dy = gpu.allocate(4L * n)) {
      dx.copyFrom(x);
      dy.copyFrom(y);
      var kernel = gpu.loadModule(kernels.resolve("saxpy.ptx")).function("saxpy");
      long t0 = System.nanoTime(); // the launch and its completion, not the module load
      kernel.launch(LaunchConfig.grid((n + 255) / 256).block(256), arg(n), arg(a), arg(dx), arg(dy));
      gpu.synchronize();
      double ms = (System.nanoTime() - t0) / 1e6;
      dy.copyTo(y);
      int wrong = 0;
      for (int i = 0; i < n; i++) {
        if (y[i] != a * (i % 1000) + 1.0f) wrong++;
      }
      System.out.printf("saxpy n=%d on %s (%s): %.3f ms, %d wrong -> %s%n", n, gpu.device().name(), uri.replaceAll("token=[^&]*", "token=..."),
          ms, wrong, wrong == 0 ? "OK" : "WRONG");
      System.exit(wrong == 0 ? 0 : 1);
    }
  }
}
