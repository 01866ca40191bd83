package io.gpupool.client;

/** A kernel of a loaded {@link Module}. */
public final class Kernel {
  private final Module module;
  private final GpuBackend.Function function;

  Kernel(Module module, GpuBackend.Function function) {
    this.module = module;
    this.function = function;
  }

  public String name() {
    return function.name();
  }

  /**
   * Launches the kernel ({@code cuLaunchKernel}); pipelined: an error surfaces by the next
   * synchronizing call at the latest, as a {@link GpuException} naming this launch.
   * Remotely, the arguments' count and sizes are checked against the kernel's parameters
   * first (IllegalArgumentException).
   */
  public void launch(LaunchConfig config, KernelArg... args) {
    GpuBackend backend = module.backend();
    RemoteGpu gpu = module.gpu();
    long stream = Stream.handle(gpu, config.stream());
    byte[][] bytes = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      bytes[i] = args[i].bytes(gpu);
    }
    backend.launch(function, config, stream, bytes);
  }

  @Override
  public String toString() {
    return "Kernel[" + function.name() + "]";
  }
}
