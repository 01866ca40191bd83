package io.gpupool.agent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** CSV content and quoting; the HTML's tables and SVG bar pairs. */
class ReportFormatterTest {

  static final double GIB_HOUR = (double) (1L << 30) * 3600;
  static final String ODD_TEAM = "ml, \"core\"";
  static final long T0 = 1_717_200_000_000L; // 2024-06-01T00:00:00Z

  static Report report() {
    return Report.newBuilder().setSinceUnixMs(T0 - 86_400_000L).setUntilUnixMs(T0 + 86_400_000L)
        // started after job 1: listed second
        .addJobs(JobUsage.newBuilder().setJobId(2).setName("eval").setTeam(ODD_TEAM).setUid(1001)
            .setGpus(1).setStartedUnixMs(T0 + 3_600_000L)
            .setWallSeconds(1800).setGrantedByteSeconds(1 * GIB_HOUR)
            .setUsedByteSeconds(0))
        .addJobs(JobUsage.newBuilder().setJobId(1).setName("train, big").setTeam("nlp").setUid(1000)
            .setGpus(2).setStartedUnixMs(T0).setEndedUnixMs(T0 + 10_800_000L)
            .setWallSeconds(10_800).setGrantedByteSeconds(6 * GIB_HOUR)
            .setUsedByteSeconds(4.5 * GIB_HOUR))
        .addJobs(JobUsage.newBuilder().setJobId(3).setName("line\nbreak").setTeam("nlp")
            .setUid(1000).setGpus(1).setStartedUnixMs(T0 + 7_200_000L)
            .setWallSeconds(3600).setGrantedByteSeconds(2 * GIB_HOUR)
            .setUsedByteSeconds(1 * GIB_HOUR))
        .build();
  }

  /** A small RFC 4180 reader: quoted fields, doubled quotes, newlines inside quotes. */
  static List<List<String>> parseCsv(String csv) {
    List<List<String>> rows = new ArrayList<>();
    List<String> row = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < csv.length(); i++) {
      char c = csv.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < csv.length() && csv.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          field.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        row.add(field.toString());
        field.setLength(0);
      } else if (c == '\n') {
        row.add(field.toString());
        field.setLength(0);
        rows.add(row);
        row = new ArrayList<>();
      } else {
        field.append(c);
      }
    }
    assertTrue(row.isEmpty() && field.length() == 0, "CSV must end with a newline");
    return rows;
  }

  @Test
  void csvRowsPerJobThenPerTeam() {
    String csv = ReportFormatter.toCsv(report());
    List<List<String>> rows = parseCsv(csv);
    assertEquals(List.of("kind", "job_id", "name", "team", "uid", "gpus", "started_utc",
        "ended_utc", "wall_hours", "granted_gib_hours", "used_gib_hours", "used_percent"),
        rows.get(0));
    assertEquals(6, rows.size(), csv);
    assertEquals(List.of("job", "1", "train, big", "nlp", "1000", "2", "2024-06-01T00:00:00Z",
        "2024-06-01T03:00:00Z", "3.000", "6.000", "4.500", "75.0"), rows.get(1));
    assertEquals(List.of("job", "2", "eval", ODD_TEAM, "1001", "1", "2024-06-01T01:00:00Z",
        "", "0.500", "1.000", "0.000", "0.0"), rows.get(2));
    assertEquals(List.of("job", "3", "line\nbreak", "nlp", "1000", "1", "2024-06-01T02:00:00Z",
        "", "1.000", "2.000", "1.000", "50.0"), rows.get(3));
    // teams by name: "ml, ..." sorts before "nlp"
    assertEquals(List.of("team", "", "", ODD_TEAM, "", "", "", "", "0.500", "1.000", "0.000",
        "0.0"), rows.get(4));
    assertEquals(List.of("team", "", "", "nlp", "", "", "", "", "4.000", "8.000", "5.500",
        "68.8"), rows.get(5));
  }

  @Test
  void csvQuoting() {
    String csv = ReportFormatter.toCsv(report());
    assertTrue(csv.contains(",\"ml, \"\"core\"\"\","), csv);
    assertTrue(csv.contains(",\"train, big\","), csv);
    assertTrue(csv.contains(",\"line\nbreak\","), csv);
    assertEquals("plain", ReportFormatter.csvField("plain"));
    assertEquals("\"a\"\"b\"", ReportFormatter.csvField("a\"b"));
    assertEquals("\"a\rb\"", ReportFormatter.csvField("a\rb"));
  }

  @Test
  void csvOfAnEmptyReportIsTheHeader() {
    assertEquals(String.join(",", ReportFormatter.CSV_COLUMNS) + "\n",
        ReportFormatter.toCsv(Report.getDefaultInstance()));
  }

  @Test
  void nothingGrantedHasNoPercent() {
    Report r = Report.newBuilder().addJobs(JobUsage.newBuilder().setJobId(5).setTeam("x")).build();
    List<List<String>> rows = parseCsv(ReportFormatter.toCsv(r));
    assertEquals("", rows.get(1).get(11));
    assertEquals("", rows.get(2).get(11));
  }

  @Test
  void htmlHasOneBarPairPerTeam() throws Exception {
    String html = ReportFormatter.toHtml(report());
    // kept for a look: target/test-output/usage-report.html
    Files.createDirectories(Path.of("target", "test-output"));
    Files.writeString(Path.of("target", "test-output", "usage-report.html"), html);
    assertTrue(html.startsWith("<!DOCTYPE html>"));
    String teamChart = svg(html, "team-chart");
    assertEquals(2, count(teamChart, "<g class=\"pair\""), teamChart);
    assertEquals(2, count(teamChart, "<rect class=\"granted\""));
    assertEquals(2, count(teamChart, "<rect class=\"used\""));
    assertTrue(teamChart.contains("data-team=\"ml, &quot;core&quot;\""), teamChart);
    assertTrue(teamChart.contains("data-team=\"nlp\""), teamChart);
    // the scale: nlp's granted bar (8 GiB-h) is the widest, 460 px
    assertTrue(teamChart.contains("<rect class=\"granted\" x=\"180\" y=\"44\" width=\"460.00\""),
        teamChart);
    assertEquals(3, count(svg(html, "job-chart"), "<g class=\"pair\""));
    assertTrue(html.contains("<table id=\"teams\">") && html.contains("<table id=\"jobs\">"));
    assertFalse(html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"));
    assertFalse(html.contains("src=") || html.contains("<link"), "self-contained");
  }

  @Test
  void htmlChartsTopTenJobsAndEscapes() {
    Report.Builder r = Report.newBuilder();
    for (int i = 1; i <= 14; i++) {
      r.addJobs(JobUsage.newBuilder().setJobId(i).setName("<script>alert(" + i + ")</script>")
          .setTeam("t" + (i % 3)).setGrantedByteSeconds(i * GIB_HOUR)
          .setUsedByteSeconds(i * GIB_HOUR / 2));
    }
    String html = ReportFormatter.toHtml(r.build());
    assertEquals(3, count(svg(html, "team-chart"), "<g class=\"pair\""));
    String jobs = svg(html, "job-chart");
    assertEquals(10, count(jobs, "<g class=\"pair\""));
    assertTrue(jobs.indexOf("data-job-id=\"14\"") < jobs.indexOf("data-job-id=\"13\""));
    assertFalse(jobs.contains("data-job-id=\"4\""), "the 10 largest only");
    assertFalse(html.contains("<script>"));
    assertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
  }

  @Test
  void gibHours() {
    assertEquals(1.0, Usage.gibHours((1L << 30) * 3600.0));
    assertEquals(0.5, Usage.gibHours((1L << 29) * 3600.0));
  }

  private static String svg(String html, String id) {
    Matcher m = Pattern.compile("<svg id=\"" + id + "\"[\\s\\S]*?</svg>").matcher(html);
    assertTrue(m.find(), "no svg " + id + " in " + html);
    return m.group();
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
