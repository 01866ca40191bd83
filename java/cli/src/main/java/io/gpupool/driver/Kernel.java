package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;

/** A kernel of a loaded {@link Module}. */
public final class Kernel {
  private final String name;
  private final CUfunction function;

  Kernel(String name, CUfunction function) {
    this.name = name;
    this.function = function;
  }

  public String name() {
    return name;
  }

  public CUfunction handle() {
    return function;
  }

  /**
   * Launches a 1-D grid on {@code stream} (null: the legacy default stream).
   * {@code parameters} is {@code Pointer.to(Pointer.to(arg0), Pointer.to(arg1), ...)}.
   */
  public void launch(int gridX, int blockX, CUstream stream, Pointer parameters) {
    Cuda.check("cuLaunchKernel(" + name + ")",
        cuLaunchKernel(function, gridX, 1, 1, blockX, 1, 1, 0, stream, parameters, null));
  }
}
