package io.gpupool.client;

/** The pool cannot be reached: no connection, a connection lost, or no driver to run on. */
public final class PoolUnavailableException extends GpuPoolException {
  private static final long serialVersionUID = 1L;

  public PoolUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
