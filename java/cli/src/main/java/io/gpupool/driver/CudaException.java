package io.gpupool.driver;

import jcuda.driver.CUresult;

/** A driver API call returned something other than {@code CUDA_SUCCESS}. */
public final class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int result;

  public CudaException(String call, int result) {
    super(call + " failed: " + CUresult.stringFor(result) + " (" + result + ")");
    this.call = call;
    this.result = result;
  }

  /** The driver call that failed, e.g. {@code cuMemAlloc}. */
  public String call() {
    return call;
  }

  /** The {@code CUresult} value, comparable with the constants of {@link CUresult}. */
  public int result() {
    return result;
  }

  /** The CUresult's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
  public String errorName() {
    return CUresult.stringFor(result);
  }
}
