package io.gpupool.cli;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** Byte counts in human units (binary: KiB, MiB, GiB, TiB), as the project writes them. */
final class Sizes {
  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

  private Sizes() {}

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
