package io.gpupool.cli;

import io.gpupool.driver.Cuda;
import io.gpupool.driver.DeviceProperties;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "demo",
    description = {
      "List the devices, run saxpy (y = 2*x + y, n = 2^20) on device 0 and check it on the host;",
      "then start an agent on these GPUs and run four jobs of different sizes through `gpupool run`,",
      "showing the status page's address and what each job got. Exits 1 if anything is wrong."
    })
final class DemoCommand implements Callable<Integer> {
  /** Whether the libcuda.so.1 in this process is gpupool's simulated driver (…/lib/sim/libcuda.so.1). */
  static boolean simulatedDriverLoaded() throws java.io.IOException {
    for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/maps"))) {
      if (line.endsWith("/lib/sim/libcuda.so.1")) return true;
    }
    return false;
  }

  static final int N = 1 << 20;
  static final float A = 2.0f;

  @Spec CommandSpec spec;

  @Option(
      names = "--kernels",
      paramLabel = "DIR",
      description = "Directory of the kernels' PTX (default: $GPUPOOL_KERNELS_DIR, else <gpupool home>/lib/kernels).")
  Path kernels;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path ptx = KernelDirectory.ptx(KernelDirectory.resolve(kernels), Saxpy.KERNEL);
    List<DeviceProperties> devices = Cuda.devices();
    DevicesCommand.print(out, devices);
    if (devices.isEmpty()) {
      spec.commandLine().getErr().println("gpupool: no CUDA device to run the demo on");
      return 1;
    }
    Saxpy.Result result = Saxpy.run(0, ptx, N, A);
    boolean correct = result.maxError() == 0.0f;
    out.printf(
        "saxpy on device 0: y = %s*x + y, n = %d: max error %s, kernel time %.3f ms (events) -> %s%n",
        A, result.n(), result.maxError(), result.kernelMilliseconds(), correct ? "OK" : "WRONG");
    if (!correct) return 1;
    return PoolDemo.run(out, devices, simulatedDriverLoaded());
  }
}
