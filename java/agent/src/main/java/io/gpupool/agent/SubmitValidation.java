package io.gpupool.agent;

import io.gpupool.proto.v1.Submit;
import java.nio.charset.StandardCharsets;

/** Checks a Submit from a socket peer before anything is done with it. */
final class SubmitValidation {
  static final int MAX_GPUS = 16;
  static final int MAX_WEIGHT = 10_000;
  static final int MAX_LABEL_BYTES = 63;
  static final int MAX_COMMAND_ARGS = 256;
  static final int MAX_ARG_CHARS = 4096;

  private SubmitValidation() {}

  /** What is wrong with the request, or null. */
  static String check(Submit s, Peer peer) {
    if (!peer.known()) {
      return "the agent cannot tell who is asking (no peer credentials on this transport); "
          + "jobs can be submitted only where the epoll transport is available";
    }
    if (s.getGpus() > MAX_GPUS) return "gpus: " + s.getGpus() + " is more than " + MAX_GPUS;
    if (s.getWeight() > MAX_WEIGHT) return "weight: " + s.getWeight() + " is not in 1.." + MAX_WEIGHT;
    if (s.getMemoryBytes() < 0) return "memory: negative";
    String label = label("name", s.getName());
    if (label != null) return label;
    label = label("team", s.getTeam());
    if (label != null) return label;
    if (s.getCommandCount() > MAX_COMMAND_ARGS) return "command: more than " + MAX_COMMAND_ARGS + " arguments";
    for (String arg : s.getCommandList()) {
      if (arg.length() > MAX_ARG_CHARS) return "command: an argument is longer than " + MAX_ARG_CHARS + " characters";
    }
    return null;
  }

  private static String label(String what, String value) {
    if (value.getBytes(StandardCharsets.UTF_8).length > MAX_LABEL_BYTES) {
      return what + ": longer than " + MAX_LABEL_BYTES + " bytes";
    }
    for (int i = 0; i < value.length(); i++) {
      if (Character.isISOControl(value.charAt(i))) return what + ": contains a control character";
    }
    return null;
  }

  /** The job's key (GPUPOOL_JOB): its name reduced to [A-Za-z0-9_.-], then its id; at most 48 chars. */
  static String jobKey(String name, long id) {
    StringBuilder b = new StringBuilder();
    for (char c : name.toCharArray()) {
      if (b.length() >= 28) break;
      b.append(Character.isLetterOrDigit(c) && c < 128 || c == '_' || c == '.' || c == '-' ? c : '_');
    }
    if (b.length() == 0) b.append("job");
    return b + "-" + id;
  }
}
