package io.gpupool.simulate;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A comma-separated file with a header line, read strictly: every column must be known, the
 * required ones present, each row as many fields as the header, and nothing but blank lines may
 * follow a blank line. Fields may be quoted ("a,b", "" for a quote); a field cannot span lines.
 * Errors are {@link TraceFormatException}s naming the file, line and column.
 */
final class CsvTable {
  private final Path file;
  private final Map<String, Integer> columns;
  private final List<Row> rows;

  private CsvTable(Path file, Map<String, Integer> columns, List<Row> rows) {
    this.file = file;
    this.columns = columns;
    this.rows = rows;
  }

  /** Reads the whole file; {@code known} lists every column allowed, {@code required} those that must be there. */
  static CsvTable read(Path file, Set<String> required, Set<String> known) throws IOException {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String header = in.readLine();
      if (header == null || header.isBlank()) throw new TraceFormatException(file, 1, null, "no header line");
      if (header.startsWith("\uFEFF")) header = header.substring(1); // a byte-order mark (spreadsheets write one)
      Map<String, Integer> columns = new LinkedHashMap<>();
      for (String name : split(file, 1, header)) {
        String column = name.trim();
        if (!known.contains(column)) {
          throw new TraceFormatException(file, 1, column, "unknown column (known: " + String.join(", ", known) + ")");
        }
        if (columns.put(column, columns.size()) != null) throw new TraceFormatException(file, 1, column, "appears twice");
      }
      for (String column : required) {
        if (!columns.containsKey(column)) throw new TraceFormatException(file, 1, column, "missing from the header");
      }
      List<Row> rows = new ArrayList<>();
      int blank = 0; // the first blank line seen, if any
      int lineNo = 1;
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        lineNo++;
        if (line.isBlank()) {
          if (blank == 0) blank = lineNo;
          continue;
        }
        if (blank != 0) throw new TraceFormatException(file, blank, null, "blank line inside the table");
        String[] fields = split(file, lineNo, line);
        if (fields.length != columns.size()) {
          throw new TraceFormatException(file, lineNo, null,
              fields.length + " fields, the header has " + columns.size() + " columns");
        }
        rows.add(new Row(file, lineNo, columns, fields));
      }
      return new CsvTable(file, columns, rows);
    }
  }

  Path file() {
    return file;
  }

  boolean has(String column) {
    return columns.containsKey(column);
  }

  List<Row> rows() {
    return rows;
  }

  /** One data line. The accessors throw TraceFormatException naming this line and the column. */
  record Row(Path file, int line, Map<String, Integer> columns, String[] fields) {
    /** The field, trimmed; "" when the file has no such column. */
    String text(String column) {
      Integer i = columns.get(column);
      return i == null ? "" : fields[i].trim();
    }

    String required(String column) {
      String value = text(column);
      if (value.isEmpty()) throw error(column, "empty");
      return value;
    }

    /** A whole number in min..max. */
    long number(String column, long min, long max) {
      String value = required(column);
      long n;
      try {
        n = Long.parseLong(value);
      } catch (NumberFormatException e) {
        throw error(column, "'" + value + "' is not a whole number");
      }
      if (max == Long.MAX_VALUE && n < min) throw error(column, n + (min == 0 ? " is negative" : " is less than " + min));
      if (n < min || n > max) throw error(column, n + " is not in " + min + ".." + max);
      return n;
    }

    TraceFormatException error(String column, String problem) {
      return new TraceFormatException(file, line, column, problem);
    }
  }

  /** Splits one line at commas outside double quotes. */
  private static String[] split(Path file, int lineNo, String line) {
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c != '"') {
          field.append(c);
        } else if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else {
          quoted = false;
        }
      } else if (c == '"' && field.toString().isBlank()) {
        quoted = true;
      } else if (c == ',') {
        fields.add(field.toString());
        field.setLength(0);
      } else {
        field.append(c);
      }
    }
    if (quoted) throw new TraceFormatException(file, lineNo, null, "a quoted field is not closed");
    fields.add(field.toString());
    return fields.toArray(new String[0]);
  }
}
