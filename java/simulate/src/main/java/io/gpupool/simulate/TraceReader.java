package io.gpupool.simulate;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a pod list of the Alibaba openb 2023 schema ({@code name, cpu_milli, memory_mib, num_gpu,
 * gpu_milli, gpu_spec, qos, pod_phase, creation_time, deletion_time, scheduled_time}). The first
 * five columns are required; the time columns come all three or none. Every row is checked
 * (numbers, ranges, a GPU request that makes sense, times in order) and any fault is a
 * {@link TraceFormatException} naming file, line and column: no row is dropped or repaired.
 */
public final class TraceReader {
  static final List<String> REQUIRED = List.of("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli");
  static final List<String> OPTIONAL = List.of("gpu_spec", "qos", "pod_phase", "creation_time", "deletion_time",
      "scheduled_time");
  static final List<String> TIMES = List.of("creation_time", "scheduled_time", "deletion_time");
  static final Set<String> PHASES = Set.of("Pending", "Running", "Succeeded", "Failed", "Unknown");
  /** More GPUs than any node could have: a typo, not a request. */
  static final int MAX_GPUS = 1024;

  private TraceReader() {}

  public static Trace read(Path file) throws IOException {
    Set<String> known = new LinkedHashSet<>(REQUIRED);
    known.addAll(OPTIONAL);
    CsvTable table = CsvTable.read(file, new LinkedHashSet<>(REQUIRED), known);
    int timeColumns = 0;
    for (String column : TIMES) if (table.has(column)) timeColumns++;
    if (timeColumns != 0 && timeColumns != TIMES.size()) {
      for (String column : TIMES) {
        if (!table.has(column)) {
          throw new TraceFormatException(file, 1, column, "missing: the time columns "
              + String.join(", ", TIMES) + " come together or not at all");
        }
      }
    }
    boolean timed = timeColumns == TIMES.size();
    List<TraceTask> tasks = new ArrayList<>(table.rows().size());
    for (CsvTable.Row row : table.rows()) tasks.add(task(row, timed));
    if (tasks.isEmpty()) throw new TraceFormatException(file, 0, null, "no tasks (only a header)");
    return new Trace(file, timed, tasks);
  }

  private static TraceTask task(CsvTable.Row row, boolean timed) {
    String name = row.required("name");
    long cpu = row.number("cpu_milli", 0, Long.MAX_VALUE);
    long memory = row.number("memory_mib", 0, Long.MAX_VALUE);
    int gpus = (int) row.number("num_gpu", 0, MAX_GPUS);
    int milli = (int) row.number("gpu_milli", 0, 1000);
    if (gpus == 0 && milli != 0) throw row.error("gpu_milli", milli + " of a GPU, but num_gpu is 0");
    if (gpus > 0 && milli == 0) throw row.error("gpu_milli", "0: a task with num_gpu " + gpus + " must ask for some of each GPU");
    Set<String> models = models(row);
    String phase = row.text("pod_phase");
    if (!phase.isEmpty() && !PHASES.contains(phase)) {
      throw row.error("pod_phase", "'" + phase + "' is not a pod phase (" + String.join(", ", PHASES) + ")");
    }
    long creation = TraceTask.NO_TIME;
    long scheduled = TraceTask.NO_TIME;
    long deletion = TraceTask.NO_TIME;
    if (timed) {
      creation = row.number("creation_time", 0, Long.MAX_VALUE);
      deletion = row.number("deletion_time", 0, Long.MAX_VALUE);
      if (!row.text("scheduled_time").isEmpty()) scheduled = row.number("scheduled_time", 0, Long.MAX_VALUE);
      if (scheduled != TraceTask.NO_TIME && scheduled < creation) {
        throw row.error("scheduled_time", scheduled + " is before creation_time " + creation);
      }
      long from = scheduled == TraceTask.NO_TIME ? creation : scheduled;
      if (deletion < from) {
        throw row.error("deletion_time", deletion + " is before " + (scheduled == TraceTask.NO_TIME
            ? "creation_time " : "scheduled_time ") + from + " (negative duration)");
      }
    }
    return new TraceTask(row.line(), name, cpu, memory, gpus, milli, models, row.text("qos"), phase,
        creation, scheduled, deletion);
  }

  private static Set<String> models(CsvTable.Row row) {
    String spec = row.text("gpu_spec");
    if (spec.isEmpty()) return Set.of();
    Set<String> models = new LinkedHashSet<>();
    for (String model : spec.split("\\|", -1)) {
      if (model.isBlank()) throw row.error("gpu_spec", "'" + spec + "' has an empty model name (models are separated by |)");
      models.add(model.trim());
    }
    return Set.copyOf(models);
  }
}
