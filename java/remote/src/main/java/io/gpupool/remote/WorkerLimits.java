package io.gpupool.remote;

/**
 * What one session may use of its worker. The device memory quota is not here: the shim under
 * which the agent starts the worker enforces it (over-quota allocations fail there with
 * CUDA_ERROR_OUT_OF_MEMORY), so there is one enforcement point for local and remote jobs alike.
 * These limits protect the worker process itself from a misbehaving client.
 *
 * @param maxHandles live handles of all kinds (allocations, modules, functions, globals, streams,
 *     events); one more: CUDA_ERROR_OUT_OF_MEMORY
 * @param maxAllocationBytes the largest single MemAlloc; larger: CUDA_ERROR_OUT_OF_MEMORY
 * @param maxFrameBytes the largest frame accepted from an attached client; larger: Refused
 *     BAD_REQUEST and the connection closed
 * @param attachTimeoutMs how long the worker waits for a valid Attach before giving up
 */
public record WorkerLimits(int maxHandles, long maxAllocationBytes, int maxFrameBytes, long attachTimeoutMs) {
  public static final int DEFAULT_MAX_HANDLES = 65536;
  /** MAX_FRAME_BYTES of remote.proto. */
  public static final int DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
  public static final long DEFAULT_ATTACH_TIMEOUT_MS = 30_000;

  public WorkerLimits {
    if (maxHandles <= 0) throw new IllegalArgumentException("maxHandles must be positive: " + maxHandles);
    if (maxAllocationBytes <= 0) {
      throw new IllegalArgumentException("maxAllocationBytes must be positive: " + maxAllocationBytes);
    }
    if (maxFrameBytes < 64) throw new IllegalArgumentException("maxFrameBytes too small: " + maxFrameBytes);
    if (attachTimeoutMs <= 0) throw new IllegalArgumentException("attachTimeoutMs must be positive: " + attachTimeoutMs);
  }

  /** 65536 handles, no allocation limit beyond the quota, 4 MiB frames, 30 s to attach. */
  public static WorkerLimits defaults() {
    return new WorkerLimits(DEFAULT_MAX_HANDLES, Long.MAX_VALUE, DEFAULT_MAX_FRAME_BYTES, DEFAULT_ATTACH_TIMEOUT_MS);
  }
}
