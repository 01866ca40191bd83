package io.gpupool.remote;

/**
 * The CUresult values the worker produces itself (the rest come from the driver and are passed
 * through unchanged). Numbers as in cuda.h, so the client sees exactly what a local driver
 * would have returned for the same mistake.
 */
final class CudaResult {
  static final int SUCCESS = 0;
  static final int INVALID_VALUE = 1;
  static final int OUT_OF_MEMORY = 2;
  static final int INVALID_HANDLE = 400;
  static final int NOT_READY = 600;
  static final int NOT_SUPPORTED = 801;

  private CudaResult() {}
}
