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
    assertRow(table, "GPU allocation rate", "100.0%", "90.9%");
    assertRow(table, "device-time utilisation", "50.0%", "90.9%");
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
