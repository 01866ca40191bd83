package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The queueing-delay chart: per policy, the share of started tasks that waited at most x, with
 * x on a log scale (log10(1 + seconds), so a delay of 0 sits at the left edge).
 */
final class DelayCdf {
  private static final int POINTS = 300;
  private static final double[] TICKS = {0, 1, 10, 60, 600, 3600, 86400, 10 * 86400, 100 * 86400};
  private static final String[] LABELS = {"0", "1 s", "10 s", "1 min", "10 min", "1 h", "1 d", "10 d", "100 d"};

  private DelayCdf() {}

  static String chart(List<SimulationResult> results, String[] colours) {
    double maxDelay = 60;
    for (SimulationResult r : results) {
      if (r.queueDelay().count() > 0) maxDelay = Math.max(maxDelay, r.queueDelay().max());
    }
    double xMax = Math.log10(1 + maxDelay);
    List<SvgChart.Series> series = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      Distribution d = results.get(i).queueDelay();
      double[] x = new double[POINTS + 1];
      double[] y = new double[POINTS + 1];
      for (int k = 0; k <= POINTS; k++) {
        x[k] = xMax * k / POINTS;
        y[k] = d.count() == 0 ? 0 : d.atOrBelow(Math.pow(10, x[k]) - 1 + 1e-9);
      }
      series.add(new SvgChart.Series(results.get(i).policy().label(), "queueing delay CDF", colours[i % colours.length],
          false, x, y));
    }
    List<SvgChart.Tick> ticks = new ArrayList<>();
    for (int i = 0; i < TICKS.length && TICKS[i] <= maxDelay * 1.0001; i++) {
      ticks.add(new SvgChart.Tick(Math.log10(1 + TICKS[i]), LABELS[i]));
    }
    return SvgChart.lines("delay-chart", series, 0, xMax, ticks, 1.0,
        v -> String.format(Locale.ROOT, "%.0f%%", 100 * v), "tasks started");
  }
}
