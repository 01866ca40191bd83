package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;

/**
 * A device's primary context, retained and made current on this thread; {@link #close}
 * releases it. Primary contexts are the portable way to get a context (in CUDA 13
 * {@code cuCtxCreate} changed signature).
 */
public final class PrimaryContext implements AutoCloseable {
  private final CUdevice device;
  private final CUcontext context = new CUcontext();
  private boolean released;

  public PrimaryContext(int ordinal) {
    device = Cuda.device(ordinal);
    Cuda.check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(context, device));
    try {
      Cuda.check("cuCtxSetCurrent", cuCtxSetCurrent(context));
    } catch (CudaException e) {
      cuDevicePrimaryCtxRelease(device);
      throw e;
    }
  }

  public CUcontext handle() {
    return context;
  }

  /** Waits for all work in this context; reports asynchronous errors. */
  public void synchronize() {
    Cuda.check("cuCtxSynchronize", cuCtxSynchronize());
  }

  @Override
  public void close() {
    if (released) {
      return;
    }
    released = true;
    cuCtxSetCurrent(new CUcontext());
    Cuda.check("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease(device));
  }
}
