package io.gpupool.client;

import jcuda.driver.CUresult;

/**
 * A driver call on the GPU failed. The message names the call and the CUDA error, e.g.
 * {@code cuMemAlloc(5368709120 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)}.
 *
 * <p>Calls that are pipelined (launches, async copies, memsets, event records, frees)
 * report their errors as the CUDA driver reports asynchronous errors: by the next
 * synchronizing call at the latest. Such an exception names the call that failed and,
 * in {@link #reportedBy()}, the call that reported it.
 */
public final class GpuException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int result;
  private final String reportedBy;

  public GpuException(String call, int result) {
    this(call, result, null);
  }

  /** {@code reportedBy}: the synchronizing call that returned a pipelined call's error, or null. */
  public GpuException(String call, int result, String reportedBy) {
    super(call + " failed: " + errorName(result) + " (" + result + ")"
        + (reportedBy == null ? "" : ", reported by " + reportedBy));
    this.call = call;
    this.result = result;
    this.reportedBy = reportedBy;
  }

  /** The call that failed, e.g. {@code cuLaunchKernel(saxpy)}. */
  public String call() {
    return call;
  }

  /** The {@code CUresult} value, comparable with the constants of {@link CUresult}. */
  public int result() {
    return result;
  }

  /** The CUresult's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
  public String errorName() {
    return errorName(result);
  }

  /** The synchronizing call that reported a pipelined call's error; null when it was the call itself. */
  public String reportedBy() {
    return reportedBy;
  }

  static String errorName(int result) {
    String name = CUresult.stringFor(result);
    return name.startsWith("INVALID CUresult") ? "CUresult " + result : name;
  }
}
