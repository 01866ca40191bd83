package io.gpupool.agent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SinceTest {

  static final long NOW = 1_717_243_200_000L;

  @Test
  void durationsCountBackFromNow() {
    assertEquals(NOW - 7 * 86_400_000L, Since.parse("7d", NOW));
    assertEquals(NOW - 12 * 3_600_000L, Since.parse("12h", NOW));
    assertEquals(NOW - 30 * 60_000L, Since.parse("30m", NOW));
    assertEquals(NOW - 90_000L, Since.parse(" 90s ", NOW));
    assertEquals(NOW - 14 * 86_400_000L, Since.parse("2W", NOW));
    assertEquals(0, Since.parse("999999999d", NOW), "never before 1970");
  }

  @Test
  void digitsAreUnixMilliseconds() {
    assertEquals(1_700_000_000_000L, Since.parse("1700000000000", NOW));
    assertEquals(0, Since.parse("0", NOW));
  }

  @Test
  void mistakesAreRejectedWithAMessage() {
    for (String bad : new String[] {"", " ", "d", "7x", "-7d", "7d ago", "1.5h",
        "99999999999999999999", "yesterday"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Since.parse(bad, NOW), bad);
      assertTrue(e.getMessage().contains("7d, 12h, 30m"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> Since.parse(null, NOW));
  }
}
