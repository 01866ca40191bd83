package io.gpupool.simulate;

import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * Inline SVG line and bar charts for the HTML report, in the style of the agent's usage report
 * (system font, light grid, no script, no external resource). Each series is a {@code <polyline
 * class="series" data-policy=... data-series=...>} and each bar a {@code <rect class="bar">}, so
 * a test or a reader's tool can find them.
 */
final class SvgChart {
  static final int WIDTH = 760;
  static final int HEIGHT = 260;
  private static final int LEFT = 64;
  private static final int RIGHT = 16;
  private static final int TOP = 12;
  private static final int BOTTOM = 34;

  /** One line: x and y in data units; dashed lines are drawn lighter. */
  record Series(String policy, String name, String colour, boolean dashed, double[] x, double[] y) {}

  /** One axis tick: where (data units) and its label. */
  record Tick(double at, String label) {}

  private SvgChart() {}

  static String lines(String id, List<Series> series, double xMin, double xMax, List<Tick> xTicks, double yMax,
      DoubleFunction<String> yLabel, String yTitle) {
    double xSpan = xMax > xMin ? xMax - xMin : 1;
    double ySpan = yMax > 0 ? yMax : 1;
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;
    StringBuilder svg = open(id, HEIGHT);
    for (int i = 0; i <= 4; i++) {
      double v = ySpan * i / 4;
      double y = TOP + plotH - plotH * i / 4.0;
      svg.append("<line class=\"grid\" x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - RIGHT)
          .append("\" y1=\"").append(f(y)).append("\" y2=\"").append(f(y)).append("\"/>")
          .append("<text x=\"").append(LEFT - 6).append("\" y=\"").append(f(y + 4)).append("\" text-anchor=\"end\">")
          .append(HtmlSimulationReport.esc(yLabel.apply(v))).append("</text>\n");
    }
    for (Tick t : xTicks) {
      double x = LEFT + plotW * (t.at() - xMin) / xSpan;
      svg.append("<line class=\"tick\" x1=\"").append(f(x)).append("\" x2=\"").append(f(x)).append("\" y1=\"")
          .append(TOP + plotH).append("\" y2=\"").append(TOP + plotH + 4).append("\"/><text x=\"").append(f(x))
          .append("\" y=\"").append(TOP + plotH + 18).append("\" text-anchor=\"middle\">")
          .append(HtmlSimulationReport.esc(t.label())).append("</text>\n");
    }
    svg.append("<text x=\"12\" y=\"").append(TOP + plotH / 2).append("\" transform=\"rotate(-90 12 ")
        .append(TOP + plotH / 2).append(")\" text-anchor=\"middle\">").append(HtmlSimulationReport.esc(yTitle))
        .append("</text>\n");
    for (Series s : series) {
      svg.append("<polyline class=\"series\" data-policy=\"").append(s.policy()).append("\" data-series=\"")
          .append(HtmlSimulationReport.esc(s.name())).append("\" fill=\"none\" stroke=\"").append(s.colour())
          .append("\" stroke-width=\"1.6\"").append(s.dashed() ? " stroke-dasharray=\"5 3\" stroke-opacity=\"0.8\"" : "")
          .append(" points=\"");
      for (int i = 0; i < s.x().length; i++) {
        double x = LEFT + plotW * (s.x()[i] - xMin) / xSpan;
        double y = TOP + plotH - plotH * Math.min(1, Math.max(0, s.y()[i] / ySpan));
        svg.append(f(x)).append(',').append(f(y)).append(' ');
      }
      svg.append("\"><title>").append(s.policy()).append(": ").append(HtmlSimulationReport.esc(s.name()))
          .append("</title></polyline>\n");
    }
    return svg.append("</svg>\n").toString();
  }

  /** One bar of a bar chart: a group (the figure), the policy, its value 0..1 and colour. */
  record Bar(String group, String policy, String colour, double value, String text) {}

  /** Horizontal bars, grouped: each group's label, then one bar per policy, 0..1 of the width. */
  static String bars(String id, List<Bar> bars) {
    int barH = 13;
    int labelW = 200;
    int area = WIDTH - labelW - 130; // room after a full bar for its label, "pooled 100.0%"
    long groups = bars.stream().map(Bar::group).distinct().count();
    int height = (int) (bars.size() * (barH + 2) + groups * 10) + 8;
    StringBuilder svg = open(id, height);
    String group = null;
    int y = 4;
    for (Bar b : bars) {
      if (!b.group().equals(group)) {
        if (group != null) y += 10;
        group = b.group();
        svg.append("<text x=\"0\" y=\"").append(y + barH - 2).append("\">").append(HtmlSimulationReport.esc(group))
            .append("</text>\n");
      }
      double w = Double.isNaN(b.value()) ? 0 : area * Math.min(1, Math.max(0, b.value()));
      svg.append("<rect class=\"bar\" data-policy=\"").append(b.policy()).append("\" x=\"").append(labelW)
          .append("\" y=\"").append(y).append("\" width=\"").append(f(w)).append("\" height=\"").append(barH - 1)
          .append("\" fill=\"").append(b.colour()).append("\"><title>").append(b.policy()).append(": ")
          .append(HtmlSimulationReport.esc(b.text())).append("</title></rect><text x=\"").append(f(labelW + w + 6))
          .append("\" y=\"").append(y + barH - 2).append("\">").append(b.policy()).append(' ')
          .append(HtmlSimulationReport.esc(b.text())).append("</text>\n");
      y += barH + 2;
    }
    return svg.append("</svg>\n").toString();
  }

  private static StringBuilder open(String id, int height) {
    return new StringBuilder(16384).append("<svg id=\"").append(id).append("\" xmlns=\"http://www.w3.org/2000/svg\" ")
        .append("width=\"").append(WIDTH).append("\" height=\"").append(height).append("\" viewBox=\"0 0 ")
        .append(WIDTH).append(' ').append(height).append("\" role=\"img\">\n");
  }

  static String f(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }
}
