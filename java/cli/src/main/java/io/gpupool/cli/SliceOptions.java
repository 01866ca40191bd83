package io.gpupool.cli;

import io.gpupool.agent.AgentOptions;
import io.gpupool.agent.slicing.SliceConfig;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** `gpupool agent --time-slice QUANTUM|off --oversubscribe [all|GPUS]`, validated. */
final class SliceOptions {
  private static final Pattern DURATION = Pattern.compile("(\\d{1,7})(ms|s)");
  private static final long MIN_QUANTUM_NS = 1_000_000L;
  private static final long MAX_QUANTUM_NS = 10_000_000_000L;

  private SliceOptions() {}

  static SliceConfig parse(CommandLine cmd, String timeSlice, String oversubscribe, int deviceCount) {
    boolean enabled = !"off".equals(timeSlice);
    long quantum = SliceConfig.DEFAULT_QUANTUM_NANOS;
    if (enabled) {
      Matcher m = DURATION.matcher(timeSlice == null ? "" : timeSlice);
      if (!m.matches()) {
        throw new ParameterException(cmd, "--time-slice: '" + timeSlice + "' is not a duration such as 50ms or 1s, or 'off'");
      }
      quantum = Long.parseLong(m.group(1)) * (m.group(2).equals("s") ? 1_000_000_000L : 1_000_000L);
      if (quantum < MIN_QUANTUM_NS || quantum > MAX_QUANTUM_NS) {
        throw new ParameterException(cmd, "--time-slice: " + timeSlice + " is not between 1ms and 10s");
      }
    }
    Set<Integer> over = new TreeSet<>();
    if (oversubscribe != null) {
      if (!enabled) throw new ParameterException(cmd, "--oversubscribe needs time slicing (not --time-slice off)");
      if (oversubscribe.equals("all")) {
        for (int d = 0; d < deviceCount; d++) over.add(d);
      } else {
        for (String part : oversubscribe.split(",", -1)) {
          int d;
          try {
            d = Integer.parseInt(part.trim());
          } catch (NumberFormatException e) {
            throw new ParameterException(cmd, "--oversubscribe: '" + part + "' is not a GPU ordinal (or use 'all')");
          }
          if (d < 0 || d >= deviceCount) {
            throw new ParameterException(cmd, "--oversubscribe: GPU " + d + " does not exist (this node has " + deviceCount + ")");
          }
          over.add(d);
        }
      }
    }
    return SliceConfig.of(enabled, quantum, over);
  }

  static String describe(SliceConfig c) {
    if (!c.enabled()) return "off (jobs sharing a GPU run concurrently)";
    return "quantum " + c.quantumNanos() / 1_000_000 + " ms" + (c.oversubscribed().isEmpty() ? ""
        : "; oversubscribed GPUs " + c.oversubscribed() + " (quotas up to " + AgentOptions.OVERSUBSCRIBE_FACTOR + "x memory)");
  }
}
