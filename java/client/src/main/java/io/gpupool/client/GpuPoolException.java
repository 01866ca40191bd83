package io.gpupool.client;

/**
 * The pool could not be reached or used: a refused session, a lost or broken connection,
 * a driver that cannot be loaded. Errors of the GPU's own calls are {@link GpuException}s.
 */
public class GpuPoolException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public GpuPoolException(String message) {
    super(message);
  }

  public GpuPoolException(String message, Throwable cause) {
    super(message, cause);
  }
}
