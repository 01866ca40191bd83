package io.gpupool.client;

/** A module loaded on a {@link RemoteGpu} ({@code cuModuleLoadData}); {@link #close} unloads it. */
public final class Module implements AutoCloseable {
  private final RemoteGpu gpu;
  private final long handle;
  private volatile boolean closed;

  Module(RemoteGpu gpu, long handle) {
    this.gpu = gpu;
    this.handle = handle;
  }

  /** {@code cuModuleGetFunction}: the kernel of that name (its {@code extern "C"} name). */
  public Kernel function(String name) {
    return new Kernel(this, backend().moduleGetFunction(handle, name));
  }

  /** Unloads the module (pipelined); its kernels can no longer be launched. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!gpu.isClosed()) {
      gpu.backend().moduleUnload(handle);
    }
  }

  RemoteGpu gpu() {
    return gpu;
  }

  GpuBackend backend() {
    if (closed) {
      throw new IllegalStateException("Module[" + handle + "] was unloaded");
    }
    return gpu.backend();
  }
}
