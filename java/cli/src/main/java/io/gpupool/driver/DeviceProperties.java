package io.gpupool.driver;

import java.util.HexFormat;

/** What the driver reports about one device. */
public record DeviceProperties(
    int ordinal,
    String name,
    byte[] uuid,
    long totalMemoryBytes,
    int computeCapabilityMajor,
    int computeCapabilityMinor,
    int multiprocessorCount) {

  /** The UUID as nvidia-smi prints it: {@code GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}. */
  public String uuidString() {
    String hex = HexFormat.of().formatHex(uuid);
    if (hex.length() != 32) {
      return "GPU-" + hex;
    }
    return "GPU-" + hex.substring(0, 8) + "-" + hex.substring(8, 12) + "-" + hex.substring(12, 16)
        + "-" + hex.substring(16, 20) + "-" + hex.substring(20);
  }
}
