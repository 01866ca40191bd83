package io.gpupool.client;

/** The agent or the worker refused the session (remote.proto's Refused). */
public final class SessionRefusedException extends GpuPoolException {
  private static final long serialVersionUID = 1L;

  /** Why; as remote.proto's Refused.Reason. */
  public enum Reason {
    UNSPECIFIED, BAD_TOKEN, BAD_REQUEST, VERSION, NO_CAPACITY, NEVER_FITS, UNAVAILABLE
  }

  private final Reason reason;

  public SessionRefusedException(Reason reason, String where, String detail) {
    super(where + " refused the session: " + describe(reason)
        + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"));
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  private static String describe(Reason reason) {
    switch (reason) {
      case BAD_TOKEN: return "bad or missing token";
      case BAD_REQUEST: return "bad request";
      case VERSION: return "protocol or CUDA version not supported";
      case NO_CAPACITY: return "no GPU has capacity now (no_wait was set)";
      case NEVER_FITS: return "the request can never fit any GPU of the pool";
      case UNAVAILABLE: return "the pool is unavailable";
      default: return "no reason given";
    }
  }
}
