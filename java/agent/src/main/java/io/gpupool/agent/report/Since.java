package io.gpupool.agent.report;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the start of a report window as people type it: a duration back from now
 * ({@code 7d}, {@code 12h}, {@code 30m}, {@code 90s}, {@code 2w}) or an absolute instant in unix
 * milliseconds ({@code 1717171717000}).
 *
 * <p>Why one parser: {@code /api/report?since=} and {@code gpupool report --since} must accept
 * the same text, and both must reject the same mistakes with the same message instead of
 * silently reporting from 1970.
 */
public final class Since {

  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})\\s*([smhdw])");
  private static final Pattern UNIX_MS = Pattern.compile("\\d{1,19}");

  private Since() {}

  /**
   * @param text a duration ({@code <n>s|m|h|d|w}) or unix milliseconds
   * @param nowUnixMs the instant a duration counts back from
   * @return the start of the window in unix milliseconds (never negative)
   * @throws IllegalArgumentException with a message fit to show to the user
   */
  public static long parse(String text, long nowUnixMs) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException(
          "since is empty: give a duration like 7d, 12h, 30m or unix milliseconds");
    }
    String t = text.trim().toLowerCase(Locale.ROOT);
    Matcher m = DURATION.matcher(t);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      long unitMs = switch (m.group(2)) {
        case "s" -> 1_000L;
        case "m" -> 60_000L;
        case "h" -> 3_600_000L;
        case "d" -> 86_400_000L;
        case "w" -> 7 * 86_400_000L;
        default -> throw new AssertionError(m.group(2));
      };
      return Math.max(0, nowUnixMs - n * unitMs);
    }
    if (UNIX_MS.matcher(t).matches()) {
      try {
        return Long.parseLong(t);
      } catch (NumberFormatException e) {
        // falls through to the message below (more than Long.MAX_VALUE)
      }
    }
    throw new IllegalArgumentException("bad since '" + text
        + "': give a duration like 7d, 12h, 30m or unix milliseconds");
  }
}
