package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ReportTest {
  /** The two half-GPU tasks of SimulatorTest: static delays 0 and 90 s, pooled none. */
  private static List<SimulationResult> results() {
    Trace trace = Traces.timed().task("a", 1, 500, 0, 100).task("b", 1, 500, 10, 100).build();
    return List.of(Simulator.run(trace, Traces.nodes(1), Policy.STATIC, Demand.REQUEST),
        Simulator.run(trace, Traces.nodes(1), Policy.POOLED, Demand.REQUEST));
  }

  @Test
  void theTableHasAColumnPerPolicyAndTheFiguresOfEach() {
    String table = ComparisonTable.render("hand-made.csv", results());
    assertTrue(table.contains("on 1 nodes, 1 GPUs (demand: request)"), table);
    assertTrue(table.contains("submitted: 2"), table);
    assertTrue(Pattern.compile("\\n +static +pooled\\n").matcher(table).find(), table);
    assertRow(table, "queueing delay p95", "1.5 min", "0 s"); // 90 s
    // Both over one window, 0..200 s (static's last completion): pooled granted 100 GPU-s of
    // it (0.5 over 0..10 and 100..110, 1.0 over 10..100) and used all it granted.
    assertTrue(table.contains("time averages over 3.3 min for every policy"), table);
    assertRow(table, "GPU allocation rate", "100.0%", "50.0%");
    assertRow(table, "device-time utilisation", "50.0%", "50.0%");
    assertRow(table, "replay window", "3.3 min", "1.8 min"); // each one's own: 200 s, 110 s
    assertRow(table, "job completion time p95", "3.2 min", "1.7 min");
  }

  @Test
  void theHtmlReportIsSelfContainedWithItsPlots() {
    String html = HtmlSimulationReport.render("hand-made.csv", results());
    for (String id : List.of("summary", "utilisation-chart", "queue-chart", "delay-chart", "summary-chart")) {
      assertTrue(html.contains("id=\"" + id + "\""), id);
    }
    for (String policy : List.of("static", "pooled")) {
      assertTrue(html.contains("<polyline class=\"series\" data-policy=\"" + policy + "\" data-series=\"used\""), policy);
      assertTrue(html.contains("<rect class=\"bar\" data-policy=\"" + policy + "\""), policy);
    }
    // Static's mean delay 45 s (0 and 90 s), pooled's 0: pooled better; both over 0..200 s.
    assertTrue(html.contains("<b>At a glance:</b> mean queueing delay static 45 s → pooled 0 s (pooled better); "
        + "p95 1.5 min → 0 s; device time used 50.0% → 50.0%. Time averages are over one window for both: "
        + "3.3 min"), html);
    assertFalse(html.contains("<script"), "no script");
    // No external resource: the only URL is the SVG namespace.
    Matcher urls = Pattern.compile("(https?:)?//[a-zA-Z0-9.-]+").matcher(html);
    while (urls.find()) assertEquals("http://www.w3.org", urls.group());
  }

  private static void assertRow(String table, String label, String... values) {
    Matcher m = Pattern.compile("\\n" + Pattern.quote(label) + " +" + String.join(" +", values.length == 2
        ? List.of(Pattern.quote(values[0]), Pattern.quote(values[1])) : List.of()) + "\\n").matcher(table);
    assertTrue(m.find(), label + " " + String.join(", ", values) + " in\n" + table);
  }
}
