package io.gpupool.remote;

import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The one-time secret that the agent gave the client in its Redirect. It reaches the worker
 * process through the environment (not the command line, which every local user can read in
 * /proc) as 64 hex digits.
 */
final class WorkerSecret {
  static final int BYTES = 32;

  private WorkerSecret() {}

  /** Parses GPUPOOL_WORKER_SECRET; the message says what is wrong without echoing the value. */
  static byte[] parseHex(String hex) {
    if (hex == null || hex.isEmpty()) {
      throw new IllegalArgumentException("GPUPOOL_WORKER_SECRET is not set (the agent passes the session's secret in it)");
    }
    String s = hex.strip();
    if (s.length() != BYTES * 2) {
      throw new IllegalArgumentException(
          "GPUPOOL_WORKER_SECRET must be " + BYTES * 2 + " hex digits (" + BYTES + " bytes), not " + s.length() + " characters");
    }
    try {
      return HexFormat.of().parseHex(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("GPUPOOL_WORKER_SECRET must be hex digits only", e);
    }
  }

  /** Constant-time: how long the comparison takes says nothing about how much matched. */
  static boolean matches(byte[] expected, byte[] offered) {
    return offered != null && MessageDigest.isEqual(expected, offered);
  }
}
