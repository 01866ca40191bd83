package io.gpupool.cli;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** Byte counts in human units (binary: KiB, MiB, GiB, TiB), as the project writes them. */
final class Sizes {
  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

  private Sizes() {}

  /** Units accepted by {@link #parse}, as the shim's GPUPOOL_MEMORY_LIMIT: K/M/G/T alone are binary. */
  private static final java.util.Map<String, Long> FACTORS = java.util.Map.ofEntries(
      java.util.Map.entry("", 1L), java.util.Map.entry("b", 1L),
      java.util.Map.entry("k", 1L << 10), java.util.Map.entry("kib", 1L << 10), java.util.Map.entry("kb", 1000L),
      java.util.Map.entry("m", 1L << 20), java.util.Map.entry("mib", 1L << 20), java.util.Map.entry("mb", 1000_000L),
      java.util.Map.entry("g", 1L << 30), java.util.Map.entry("gib", 1L << 30), java.util.Map.entry("gb", 1000_000_000L),
      java.util.Map.entry("t", 1L << 40), java.util.Map.entry("tib", 1L << 40),
      java.util.Map.entry("tb", 1000_000_000_000L));

  /** "4GiB", "512MiB", "1.5GB", "1048576" -> bytes; IllegalArgumentException naming the text. */
  static long parse(String text) {
    String t = text.trim();
    int split = 0;
    while (split < t.length() && (Character.isDigit(t.charAt(split)) || t.charAt(split) == '.')) split++;
    Long factor = FACTORS.get(t.substring(split).trim().toLowerCase(java.util.Locale.ROOT));
    if (split == 0 || factor == null) {
      throw new IllegalArgumentException("'" + text + "' is not a memory size (e.g. 4GiB, 512MiB, 1.5GB, 1048576)");
    }
    try {
      BigDecimal bytes = new BigDecimal(t.substring(0, split)).multiply(BigDecimal.valueOf(factor));
      return bytes.setScale(0, RoundingMode.CEILING).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is not a memory size (e.g. 4GiB, 512MiB, 1.5GB, 1048576)");
    }
  }

  /** 17179869184 -> "16GiB", 1610612736 -> "1.5GiB", 1000 -> "1000B". */
  static String format(long bytes) {
    if (bytes < 1024) {
      return bytes + "B";
    }
    int unit = 0;
    BigDecimal value = BigDecimal.valueOf(bytes);
    BigDecimal kibi = BigDecimal.valueOf(1024);
    while (unit < UNITS.length - 1 && value.compareTo(kibi) >= 0) {
      value = value.divide(kibi);
      unit++;
    }
    return value.setScale(2, RoundingMode.HALF_UP).stripTrailingZeros().toPlainString()
        + UNITS[unit];
  }
}
