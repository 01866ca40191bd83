package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The terminal report: one column per policy, one row per figure, and above it what was replayed
 * and what was not (so no row of the trace is unaccounted for). Rows are the same for every
 * policy, so columns compare at a glance.
 */
public final class ComparisonTable {
  private ComparisonTable() {}

  /** A figure: its label and how it reads from a result. */
  record Row(String label, Function<SimulationResult, String> value) {}

  /** The figures of a timed replay, or of fill mode (a file without times). */
  static List<Row> rows(boolean timed) {
    List<Row> rows = new ArrayList<>();
    if (timed) {
      rows.add(new Row("GPU allocation rate", r -> Units.percent(r.allocationRate())));
      rows.add(new Row("device-time utilisation", r -> Units.percent(r.utilisation())));
      rows.add(new Row("  used of allocated", r -> Units.percent(r.usedOfAllocated())));
      rows.add(new Row("queueing delay p50", r -> Units.duration(r.queueDelay().percentile(50))));
      rows.add(new Row("queueing delay p95", r -> Units.duration(r.queueDelay().percentile(95))));
      rows.add(new Row("queueing delay mean", r -> Units.duration(r.queueDelay().mean())));
      rows.add(new Row("job completion time p50", r -> Units.duration(r.completionTime().percentile(50))));
      rows.add(new Row("job completion time p95", r -> Units.duration(r.completionTime().percentile(95))));
      rows.add(new Row("job completion time mean", r -> Units.duration(r.completionTime().mean())));
      rows.add(new Row("fragmented GPUs (mean)", r -> Units.decimal(r.fragmentedGpus())));
      rows.add(new Row("  while a task waits", r -> Units.decimal(r.fragmentedGpusWhileWaiting())));
      rows.add(new Row("time with a task waiting", r -> Units.percent(r.waitingShare())));
      rows.add(new Row("tasks completed", r -> Integer.toString(r.tasks().completed())));
    } else {
      rows.add(new Row("tasks started", r -> Integer.toString(r.tasks().started())));
      rows.add(new Row("tasks waiting at the end", r -> Integer.toString(r.tasks().waitingAtEnd())));
      rows.add(new Row("GPU allocation at the end", r -> Units.percent(r.atEnd().allocated())));
      rows.add(new Row("device time in use at the end", r -> Units.percent(r.atEnd().busy())));
      rows.add(new Row("fragmented GPUs at the end", r -> Integer.toString(r.atEnd().fragmentedGpus())));
    }
    rows.add(new Row("tasks refused (fit no node)", r -> Integer.toString(r.tasks().refused())));
    rows.add(new Row("replay window", r -> Units.duration(r.ownWindow())));
    return rows;
  }

  /**
   * The whole report; {@code results} are replays of one trace on one node list. Their time
   * averages are compared over one window ({@link SimulationResult#onOneWindow}).
   */
  public static String render(String traceName, List<SimulationResult> replays) {
    if (replays.isEmpty()) throw new IllegalArgumentException("no results");
    List<SimulationResult> results = SimulationResult.onOneWindow(replays);
    SimulationResult first = results.get(0);
    TaskCounts c = first.tasks();
    StringBuilder out = new StringBuilder();
    out.append("Replay of ").append(traceName).append(" on ").append(first.nodes()).append(" nodes, ")
        .append(first.gpus()).append(" GPUs (demand: ").append(first.demand().label())
        .append(first.timed() ? "" : "; no times in the file: fill mode").append("), queue: ")
        .append(first.queue().label()).append('\n');
    out.append("tasks: ").append(c.inFile()).append(" in the file; not replayed: ").append(c.cpuOnly())
        .append(" CPU-only, ").append(c.neverRan()).append(" never started in the trace; submitted: ")
        .append(c.submitted()).append('\n');
    if (first.timed()) {
      out.append("time averages over ").append(Units.duration(first.window()))
          .append(" for every policy: first submission to the last completion of any\n");
    }
    List<Row> rows = rows(first.timed());
    int labelWidth = 0;
    for (Row r : rows) labelWidth = Math.max(labelWidth, r.label().length());
    int columnWidth = 12;
    out.append(" ".repeat(labelWidth));
    for (SimulationResult r : results) out.append(pad(r.policy().label(), columnWidth));
    out.append('\n');
    for (Row row : rows) {
      out.append(row.label()).append(" ".repeat(labelWidth - row.label().length()));
      for (SimulationResult r : results) out.append(pad(row.value().apply(r), columnWidth));
      out.append('\n');
    }
    return out.toString();
  }

  private static String pad(String s, int width) {
    return " ".repeat(Math.max(2, width - s.length())) + s;
  }
}
