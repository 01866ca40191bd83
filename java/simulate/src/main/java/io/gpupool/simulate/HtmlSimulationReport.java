package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The HTML report of {@code gpupool simulate --html}: one self-contained page (inline CSS and
 * SVG, no script, no external resource), with the comparison table, utilisation and the queue
 * over time, the queueing-delay distribution and a per-policy summary.
 */
public final class HtmlSimulationReport {
  private static final int POINTS = 600;
  private static final String[] COLOURS = {"#d9822b", "#2f80ed", "#27ae60", "#8e44ad"};

  private HtmlSimulationReport() {}

  public static String render(String traceName, List<SimulationResult> replays) {
    if (replays.isEmpty()) throw new IllegalArgumentException("no results");
    List<SimulationResult> results = SimulationResult.onOneWindow(replays); // one window, one time axis
    SimulationResult first = results.get(0);
    StringBuilder out = new StringBuilder(65536);
    out.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
        .append("<title>gpupool simulate: ").append(esc(traceName)).append("</title>\n<style>\n")
        .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2933;max-width:900px}")
        .append("h1{font-size:20px}h2{font-size:16px;margin-top:28px}")
        .append("table{border-collapse:collapse;margin:8px 0}")
        .append("th,td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left;white-space:nowrap}")
        .append("td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f7fa}")
        .append(".grid{stroke:#e4e7eb}.tick{stroke:#9aa5b1}svg text{font:12px system-ui,sans-serif;fill:#1f2933}")
        .append(".key span{display:inline-block;width:18px;height:3px;margin:0 4px 3px 12px;vertical-align:middle}")
        .append("\n</style></head><body>\n<h1>gpupool simulate: ").append(esc(traceName)).append("</h1>\n");
    TaskCounts c = first.tasks();
    out.append("<p>").append(first.nodes()).append(" nodes, ").append(first.gpus()).append(" GPUs; demand model <b>")
        .append(first.demand().label()).append("</b>; queue <b>").append(first.queue().label())
        .append("</b>").append(first.timed() ? "" : "; the file has no times: <b>fill mode</b>"
            + " (task i is submitted at second i and never ends)").append(". Of ").append(c.inFile())
        .append(" tasks in the file, ").append(c.cpuOnly()).append(" are CPU-only and ").append(c.neverRan())
        .append(" never started in the trace (not replayed); ").append(c.submitted()).append(" were submitted.</p>\n")
        .append("<p>Modelling: a task's <code>gpu_milli</code> is its quota of each GPU's memory (pooled; static grants "
            + "whole GPUs) and, under demand <i>request</i>, also the share of device time it uses; its work is "
            + "<code>gpu_milli/1000 × run time</code> device-seconds per GPU; co-located tasks share a device's time by "
            + "the agent's time-slice policy (weighted max-min fair shares).</p>\n");

    out.append(atAGlance(results));
    out.append("<h2>Summary</h2>\n<table id=\"summary\"><tr><th></th>");
    for (SimulationResult r : results) out.append("<th class=\"n\">").append(r.policy().label()).append("</th>");
    out.append("</tr>\n");
    for (ComparisonTable.Row row : ComparisonTable.rows(first.timed())) {
      boolean sub = row.label().startsWith(" "); // a refinement of the row above
      out.append(sub ? "<tr><td style=\"padding-left:24px\">" : "<tr><td>").append(esc(row.label().trim())).append("</td>");
      for (SimulationResult r : results) out.append("<td class=\"n\">").append(esc(row.value().apply(r))).append("</td>");
      out.append("</tr>\n");
    }
    out.append("</table>\n");

    out.append("<h2>Utilisation over time</h2>\n<p class=\"key\">");
    for (int i = 0; i < results.size(); i++) {
      String colour = COLOURS[i % COLOURS.length];
      out.append("<span style=\"background:").append(colour).append("\"></span>").append(results.get(i).policy().label())
          .append(": device time used (solid), GPU capacity allocated (dashed)");
    }
    out.append("</p>\n");
    TimeAxis axis = new TimeAxis(first);
    List<SvgChart.Series> util = new ArrayList<>();
    List<SvgChart.Series> queue = new ArrayList<>();
    double maxWaiting = 1;
    for (int i = 0; i < results.size(); i++) {
      SimulationResult r = results.get(i);
      Timeline t = r.timeline().resample(POINTS);
      String colour = COLOURS[i % COLOURS.length];
      util.add(new SvgChart.Series(r.policy().label(), "allocated", colour, true, t.start(), t.allocated()));
      util.add(new SvgChart.Series(r.policy().label(), "used", colour, false, t.start(), t.busy()));
      double[] waiting = new double[t.waiting().length];
      for (int k = 0; k < waiting.length; k++) {
        waiting[k] = t.waiting()[k];
        maxWaiting = Math.max(maxWaiting, waiting[k]);
      }
      queue.add(new SvgChart.Series(r.policy().label(), "waiting", colour, false, t.start(), waiting));
    }
    out.append(SvgChart.lines("utilisation-chart", util, axis.from, axis.to, axis.ticks(), 1.0,
        v -> String.format(Locale.ROOT, "%.0f%%", 100 * v), "share of all GPUs"));
    out.append("<h2>Tasks waiting</h2>\n");
    out.append(SvgChart.lines("queue-chart", queue, axis.from, axis.to, axis.ticks(), Math.ceil(maxWaiting),
        v -> String.format(Locale.ROOT, "%.0f", v), "tasks waiting (mean per span)"));

    out.append("<h2>Queueing delay distribution</h2>\n<p>Share of started tasks that waited at most this long "
        + "(log scale; 0 at the left edge).</p>\n");
    out.append(DelayCdf.chart(results, COLOURS));

    out.append("<h2>Per-policy summary</h2>\n");
    List<SvgChart.Bar> bars = new ArrayList<>();
    addBars(bars, results, "GPU allocation rate", SimulationResult::allocationRate);
    addBars(bars, results, "device-time utilisation", SimulationResult::utilisation);
    addBars(bars, results, "used of allocated", SimulationResult::usedOfAllocated);
    addBars(bars, results, "time with a task waiting", SimulationResult::waitingShare);
    out.append(SvgChart.bars("summary-chart", bars));
    return out.append("</body></html>\n").toString();
  }

  /**
   * One sentence comparing pooled with static on what a reader asks first (how long tasks wait,
   * how much device time is used), or nothing unless both were replayed with times.
   */
  static String atAGlance(List<SimulationResult> results) {
    SimulationResult s = null;
    SimulationResult p = null;
    for (SimulationResult r : results) {
      if (r.policy() == Policy.STATIC) s = r;
      if (r.policy() == Policy.POOLED) p = r;
    }
    if (s == null || p == null || !s.timed()) return "";
    double before = s.queueDelay().mean();
    double after = p.queueDelay().mean();
    String verdict = after < before ? "better" : after > before ? "worse" : "the same";
    return "<p id=\"at-a-glance\"><b>At a glance:</b> mean queueing delay static " + Units.duration(before)
        + " → pooled " + Units.duration(after) + " (pooled " + verdict + "); p95 "
        + Units.duration(s.queueDelay().percentile(95)) + " → " + Units.duration(p.queueDelay().percentile(95))
        + "; device time used " + Units.percent(s.utilisation()) + " → " + Units.percent(p.utilisation())
        + ". Time averages are over one window for both: " + Units.duration(p.window())
        + " from the first submission to the last completion of either.</p>\n";
  }

  private static void addBars(List<SvgChart.Bar> bars, List<SimulationResult> results, String group,
      java.util.function.ToDoubleFunction<SimulationResult> value) {
    for (int i = 0; i < results.size(); i++) {
      double v = value.applyAsDouble(results.get(i));
      bars.add(new SvgChart.Bar(group, results.get(i).policy().label(), COLOURS[i % COLOURS.length], v, Units.percent(v)));
    }
  }

  /** The x axis of the time charts: the replay window, ticks in s, min, h or days since its start. */
  private static final class TimeAxis {
    final double from;
    final double to;
    final boolean timed;

    TimeAxis(SimulationResult r) {
      from = r.start();
      to = Math.max(r.end(), r.start() + 1);
      timed = r.timed();
    }

    List<SvgChart.Tick> ticks() {
      double span = to - from;
      double unit = !timed ? 1 : span >= 3 * 86400 ? 86400 : span >= 3 * 3600 ? 3600 : span >= 180 ? 60 : 1;
      String name = !timed ? " tasks" : unit == 86400 ? " d" : unit == 3600 ? " h" : unit == 60 ? " min" : " s";
      double step = niceStep(span / unit / 6) * unit;
      List<SvgChart.Tick> ticks = new ArrayList<>();
      for (double t = 0; t <= span + 1e-9; t += step) {
        ticks.add(new SvgChart.Tick(from + t, String.format(Locale.ROOT, "%.0f", t / unit) + name));
      }
      return ticks;
    }

    private static double niceStep(double raw) {
      if (raw <= 0) return 1;
      double p = Math.pow(10, Math.floor(Math.log10(raw)));
      for (double m : new double[] {1, 2, 5, 10}) if (m * p >= raw) return Math.max(1, m * p);
      return Math.max(1, 10 * p);
    }
  }

  /** HTML text and attribute escaping. */
  static String esc(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(ch);
      }
    }
    return b.toString();
  }
}
