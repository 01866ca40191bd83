package io.gpupool.agent;

/** Byte counts for people: 1.5 GiB, 512 MiB. */
final class Sizes {
  private Sizes() {}

  static String format(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    if (u == 0) return bytes + " B";
    return (v == Math.rint(v) ? String.format("%.0f", v) : String.format("%.1f", v)) + " " + units[u];
  }
}
