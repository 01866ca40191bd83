package io.gpupool.client;

/** The peer sent something remote.proto does not allow at that point; the session is closed. */
public final class ProtocolException extends GpuPoolException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) {
    super(message);
  }

  public ProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
