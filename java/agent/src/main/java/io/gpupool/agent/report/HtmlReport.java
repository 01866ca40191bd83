package io.gpupool.agent.report;

import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import java.util.List;
import java.util.Locale;

/**
 * The HTML rendering of a usage report: one page with no external resource (agents often run
 * on machines without internet access, and the page is mailed around as a file).
 *
 * <p>Why SVG bars next to the tables: the number that matters, granted GiB-hours against used
 * GiB-hours, is a ratio, and a pair of bars per team (and for the ten largest jobs) shows at a
 * glance who holds memory idle; the tables carry the exact figures. Each bar pair is a
 * {@code <g class="pair">} with {@code rect.granted} and {@code rect.used}.
 */
final class HtmlReport {

  private static final int CHART_WIDTH = 760;
  private static final int LABEL_WIDTH = 180;
  private static final int BAR_AREA = 460;
  private static final int BAR_HEIGHT = 13;
  private static final int ROW_HEIGHT = 2 * BAR_HEIGHT + 14;

  private final Report report;
  private final StringBuilder out = new StringBuilder(8192);

  HtmlReport(Report report) {
    this.report = report;
  }

  String render() {
    List<Usage.Team> teams = Usage.teams(report);
    out.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
        .append("<title>gpupool usage report</title>\n<style>\n")
        .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2933}")
        .append("h1{font-size:20px}h2{font-size:16px;margin-top:28px}")
        .append("table{border-collapse:collapse;margin:8px 0}")
        .append("th,td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left;white-space:nowrap}")
        .append("td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}")
        .append("th{background:#f5f7fa}.granted{fill:#9fb3c8}.used{fill:#2f80ed}")
        .append(".key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}")
        .append("svg text{font:12px system-ui,sans-serif;fill:#1f2933}")
        .append("\n</style></head><body>\n<h1>gpupool usage report</h1>\n")
        .append("<p>Jobs that ran between ").append(esc(when(report.getSinceUnixMs())))
        .append(" and ").append(esc(when(report.getUntilUnixMs())))
        .append(" (UTC). 1 GiB-hour = 2<sup>30</sup> bytes held for one hour.</p>\n")
        .append("<p class=\"key\"><span style=\"background:#9fb3c8\"></span>granted")
        .append("<span style=\"background:#2f80ed\"></span>used</p>\n");

    out.append("<h2>Teams</h2>\n");
    chart("team-chart", teams.stream().map(t -> new Bar(teamName(t.team()), t.team(),
        t.grantedGibHours(), t.usedGibHours())).toList(), "data-team");
    out.append("<table id=\"teams\"><tr><th>team</th><th class=\"n\">jobs</th>")
        .append("<th class=\"n\">wall h</th><th class=\"n\">granted GiB·h</th>")
        .append("<th class=\"n\">used GiB·h</th><th class=\"n\">idle GiB·h</th>")
        .append("<th class=\"n\">used %</th></tr>\n");
    for (Usage.Team t : teams) {
      out.append("<tr data-team=\"").append(esc(t.team())).append("\"><td>")
          .append(esc(teamName(t.team()))).append("</td>").append(num(t.jobs()))
          .append(num(t.wallHours())).append(num(t.grantedGibHours()))
          .append(num(t.usedGibHours())).append(num(t.grantedGibHours() - t.usedGibHours()))
          .append(pct(t.usedPercent())).append("</tr>\n");
    }
    out.append("</table>\n");

    out.append("<h2>Top ").append(Math.min(10, report.getJobsCount()))
        .append(" jobs by granted GiB-hours</h2>\n");
    chart("job-chart", Usage.topByGranted(report, 10).stream().map(j -> new Bar(
        j.getName().isEmpty() ? "job " + Long.toUnsignedString(j.getJobId()) : j.getName(),
        Long.toUnsignedString(j.getJobId()), Usage.gibHours(j.getGrantedByteSeconds()),
        Usage.gibHours(j.getUsedByteSeconds()))).toList(), "data-job-id");

    out.append("<h2>Jobs</h2>\n<table id=\"jobs\"><tr><th class=\"n\">id</th><th>name</th>")
        .append("<th>team</th><th class=\"n\">uid</th><th class=\"n\">GPUs</th>")
        .append("<th>started (UTC)</th><th>ended (UTC)</th><th class=\"n\">wall h</th>")
        .append("<th class=\"n\">granted GiB·h</th><th class=\"n\">used GiB·h</th>")
        .append("<th class=\"n\">used %</th></tr>\n");
    for (JobUsage j : Usage.jobs(report)) {
      out.append("<tr data-job-id=\"").append(Long.toUnsignedString(j.getJobId())).append("\">")
          .append("<td class=\"n\">").append(Long.toUnsignedString(j.getJobId())).append("</td>")
          .append("<td>").append(esc(j.getName())).append("</td>")
          .append("<td>").append(esc(teamName(j.getTeam()))).append("</td>")
          .append(num(j.getUid())).append(num(j.getGpus()))
          .append("<td>").append(esc(when(j.getStartedUnixMs()))).append("</td>")
          .append("<td>").append(j.getEndedUnixMs() == 0 ? "running"
              : esc(when(j.getEndedUnixMs()))).append("</td>")
          .append(num(j.getWallSeconds() / 3600.0))
          .append(num(Usage.gibHours(j.getGrantedByteSeconds())))
          .append(num(Usage.gibHours(j.getUsedByteSeconds())))
          .append(pct(Usage.usedPercent(j.getUsedByteSeconds(), j.getGrantedByteSeconds())))
          .append("</tr>\n");
    }
    out.append("</table>\n</body></html>\n");
    return out.toString();
  }

  private record Bar(String label, String key, double granted, double used) {}

  /** Horizontal bar pairs, one row per entry: granted above, used below, values at the end. */
  private void chart(String id, List<Bar> bars, String keyAttribute) {
    double max = 0;
    for (Bar b : bars) {
      max = Math.max(max, Math.max(b.granted(), b.used()));
    }
    int height = Math.max(1, bars.size()) * ROW_HEIGHT + 8;
    out.append("<svg id=\"").append(id).append("\" xmlns=\"http://www.w3.org/2000/svg\" ")
        .append("width=\"").append(CHART_WIDTH).append("\" height=\"").append(height)
        .append("\" viewBox=\"0 0 ").append(CHART_WIDTH).append(' ').append(height)
        .append("\" role=\"img\">\n");
    if (bars.isEmpty()) {
      out.append("<text x=\"0\" y=\"16\">no jobs in this window</text>\n");
    }
    int y = 4;
    for (Bar b : bars) {
      out.append("<g class=\"pair\" ").append(keyAttribute).append("=\"").append(esc(b.key()))
          .append("\"><title>").append(esc(b.label())).append(": granted ")
          .append(fmt(b.granted())).append(" GiB·h, used ").append(fmt(b.used()))
          .append(" GiB·h</title>\n");
      out.append("<text x=\"0\" y=\"").append(y + BAR_HEIGHT + 4).append("\">")
          .append(esc(clip(b.label()))).append("</text>\n");
      bar("granted", y, b.granted(), max);
      bar("used", y + BAR_HEIGHT, b.used(), max);
      out.append("</g>\n");
      y += ROW_HEIGHT;
    }
    out.append("</svg>\n");
  }

  private void bar(String cls, int y, double value, double max) {
    double w = max > 0 ? BAR_AREA * value / max : 0;
    out.append("<rect class=\"").append(cls).append("\" x=\"").append(LABEL_WIDTH)
        .append("\" y=\"").append(y).append("\" width=\"").append(fmt(w)).append("\" height=\"")
        .append(BAR_HEIGHT - 1).append("\"/>")
        .append("<text x=\"").append(fmt(LABEL_WIDTH + w + 6)).append("\" y=\"")
        .append(y + BAR_HEIGHT - 2).append("\">").append(fmt(value)).append(' ').append(cls)
        .append("</text>\n");
  }

  private static String clip(String s) {
    return s.length() <= 24 ? s : s.substring(0, 23) + "…";
  }

  private static String teamName(String team) {
    return team.isEmpty() ? "(no team)" : team;
  }

  private static String when(long unixMs) {
    String s = ReportFormatter.utc(unixMs);
    return s.isEmpty() ? "—" : s.replace('T', ' ').replace("Z", "");
  }

  private static String num(double v) {
    return "<td class=\"n\">" + fmt(v) + "</td>";
  }

  private static String num(long v) {
    return "<td class=\"n\">" + v + "</td>";
  }

  private static String pct(double v) {
    return "<td class=\"n\">" + (Double.isNaN(v) ? "—" : String.format(Locale.ROOT, "%.1f", v))
        + "</td>";
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  /** HTML text and attribute escaping. */
  static String esc(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}
