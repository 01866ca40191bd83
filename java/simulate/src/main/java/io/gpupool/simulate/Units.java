package io.gpupool.simulate;

import java.util.Locale;

/** Numbers for people: durations in s, min, h or d; shares as percentages. */
final class Units {
  private Units() {}

  /** 42 -> "42 s", 750 -> "12.5 min", 7200 -> "2.0 h", 3 days -> "3.0 d"; NaN -> "—". */
  static String duration(double seconds) {
    if (Double.isNaN(seconds)) return "—";
    if (seconds < 60) return String.format(Locale.ROOT, seconds == Math.rint(seconds) ? "%.0f s" : "%.1f s", seconds);
    if (seconds < 3600) return String.format(Locale.ROOT, "%.1f min", seconds / 60);
    if (seconds < 86400) return String.format(Locale.ROOT, "%.1f h", seconds / 3600);
    return String.format(Locale.ROOT, "%.1f d", seconds / 86400);
  }

  /** 0.4567 -> "45.7%"; NaN -> "—". */
  static String percent(double share) {
    return Double.isNaN(share) ? "—" : String.format(Locale.ROOT, "%.1f%%", 100 * share);
  }

  static String decimal(double v) {
    return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, "%.2f", v);
  }
}
