package io.gpupool.region;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Process identity as the layouts record it: a pid together with its start time (field 22 of
 * {@code /proc/<pid>/stat}, clock ticks since boot), so that a reused pid is not mistaken for
 * the process that held a slot or an entry. Linux only; pids mean something only in the pid
 * namespace of the caller.
 */
public final class Processes {
  private Processes() {}

  /**
   * The start time of {@code pid} (field 22 of {@code /proc/<pid>/stat}); empty if there is no
   * such process or it is a zombie (state Z or X: it has exited, its pid may not be reused yet).
   */
  public static OptionalLong startTime(int pid) {
    if (pid <= 0) {
      return OptionalLong.empty();
    }
    String stat;
    try {
      // ISO-8859-1: every byte is a character, whatever bytes the command name holds.
      stat = new String(Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "stat")),
          StandardCharsets.ISO_8859_1);
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty(); // no such process (or it went away while being read)
    }
    return parseStartTime(stat);
  }

  /**
   * Field 22 of a {@code /proc/<pid>/stat} line. Field 2 is the command name in parentheses,
   * which may itself hold spaces and parentheses: the fields after it start after the LAST ')'.
   */
  static OptionalLong parseStartTime(String stat) {
    int close = stat.lastIndexOf(')');
    if (close < 0) {
      return OptionalLong.empty();
    }
    String[] fields = stat.substring(close + 1).trim().split(" +");
    // fields[0] is field 3 (state), so field 22 is fields[19].
    if (fields.length < 20 || fields[0].isEmpty()) {
      return OptionalLong.empty();
    }
    char state = fields[0].charAt(0);
    if (state == 'Z' || state == 'X' || state == 'x') {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseUnsignedLong(fields[19]));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /** Whether {@code pid} exists, is not a zombie and started at {@code startTime}. */
  public static boolean alive(int pid, long startTime) {
    OptionalLong now = startTime(pid);
    return now.isPresent() && now.getAsLong() == startTime;
  }

  /** The effective uid of this process (the second field of the "Uid:" line of /proc/self/status). */
  public static int euid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
        if (line.startsWith("Uid:")) {
          String[] ids = line.substring(4).trim().split("\\s+");
          return Integer.parseUnsignedInt(ids[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("cannot read the effective uid from /proc/self/status", e);
    }
    throw new IllegalStateException("no Uid: line in /proc/self/status");
  }

  /** This process's pid. */
  static int pid() {
    return (int) ProcessHandle.current().pid();
  }
}
