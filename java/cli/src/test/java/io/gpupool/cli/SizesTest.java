package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SizesTest {
  @Test
  void formatsInBinaryUnits() {
    assertEquals("0B", Sizes.format(0));
    assertEquals("1023B", Sizes.format(1023));
    assertEquals("1KiB", Sizes.format(1024));
    assertEquals("512MiB", Sizes.format(512L << 20));
    assertEquals("16GiB", Sizes.format(16L << 30));
    assertEquals("1.5GiB", Sizes.format(3L << 29));
    assertEquals("79.19GiB", Sizes.format(85_029_158_912L));
    assertEquals("2TiB", Sizes.format(2L << 40));
  }
}
