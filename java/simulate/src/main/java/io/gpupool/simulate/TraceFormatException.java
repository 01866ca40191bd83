package io.gpupool.simulate;

import java.nio.file.Path;

/**
 * An input file (a pod list or a node list) that cannot be replayed as it is. The message names
 * the file, the line (1 is the header) and, where one is at fault, the column, so the row can be
 * found and fixed; nothing in a file is skipped silently instead.
 */
public final class TraceFormatException extends RuntimeException {
  private final Path file;
  private final int line;

  TraceFormatException(Path file, int line, String column, String problem) {
    super(file + (line > 0 ? ":" + line : "") + ": " + (column == null ? "" : "column '" + column + "': ") + problem);
    this.file = file;
    this.line = line;
  }

  public Path file() {
    return file;
  }

  /** The 1-based line at fault (the header is line 1), or 0 for the file as a whole. */
  public int line() {
    return line;
  }
}
