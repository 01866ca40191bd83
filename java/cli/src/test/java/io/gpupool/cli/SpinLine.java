package io.gpupool.cli;

import java.util.HashMap;
import java.util.Map;

/**
 * One line of spin_job's output ({@code native/tests/spin_job.cc}): its kind (the first word:
 * ready, progress, summary, error) and its key=value fields.
 */
record SpinLine(String kind, Map<String, String> fields) {
  static SpinLine parse(String line) {
    String[] words = line.trim().split(" +");
    Map<String, String> fields = new HashMap<>();
    for (int i = 1; i < words.length; i++) {
      int eq = words[i].indexOf('=');
      if (eq > 0) fields.put(words[i].substring(0, eq), words[i].substring(eq + 1));
    }
    return new SpinLine(words[0], Map.copyOf(fields));
  }

  static boolean isProgress(String line) {
    return line.startsWith("progress ");
  }

  long number(String key) {
    String v = fields.get(key);
    if (v == null) throw new AssertionError("no " + key + " in spin_job line " + kind + " " + fields);
    return Long.parseLong(v);
  }

  String text(String key) {
    String v = fields.get(key);
    if (v == null) throw new AssertionError("no " + key + " in spin_job line " + kind + " " + fields);
    return v;
  }
}
