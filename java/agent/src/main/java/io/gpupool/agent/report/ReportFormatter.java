package io.gpupool.agent.report;

import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;

/**
 * Renders a usage {@link Report} for people: CSV for spreadsheets and scripts, HTML for reading.
 *
 * <p>Why these columns: the question the report answers is "who holds GPU memory and does not
 * use it", so each row puts the GiB-hours a job (or team) was granted next to the GiB-hours it
 * actually used, and the ratio. The CSV has one row per job ({@code kind=job}), then one total
 * per team ({@code kind=team}), so a spreadsheet can filter either without a second file.
 *
 * <p>CSV: RFC 4180 quoting (a field with a comma, quote, CR or LF is quoted, quotes doubled),
 * LF line ends, times in UTC ISO-8601, numbers with a '.' whatever the locale.
 */
public final class ReportFormatter {

  /** The CSV header, in column order. */
  public static final List<String> CSV_COLUMNS = List.of("kind", "job_id", "name", "team", "uid",
      "gpus", "started_utc", "ended_utc", "wall_hours", "granted_gib_hours", "used_gib_hours",
      "used_percent");

  private ReportFormatter() {}

  /** One row per job (by start), then one per team (by name); header first. */
  public static String toCsv(Report report) {
    StringBuilder out = new StringBuilder(256 + 160 * report.getJobsCount());
    row(out, CSV_COLUMNS.toArray(new String[0]));
    for (JobUsage j : Usage.jobs(report)) {
      row(out, "job", Long.toUnsignedString(j.getJobId()), j.getName(), j.getTeam(),
          Integer.toUnsignedString(j.getUid()), Integer.toUnsignedString(j.getGpus()),
          utc(j.getStartedUnixMs()), utc(j.getEndedUnixMs()),
          number(j.getWallSeconds() / 3600.0),
          number(Usage.gibHours(j.getGrantedByteSeconds())),
          number(Usage.gibHours(j.getUsedByteSeconds())),
          percent(Usage.usedPercent(j.getUsedByteSeconds(), j.getGrantedByteSeconds())));
    }
    for (Usage.Team t : Usage.teams(report)) {
      row(out, "team", "", "", t.team(), "", "", "", "",
          number(t.wallHours()), number(t.grantedGibHours()), number(t.usedGibHours()),
          percent(t.usedPercent()));
    }
    return out.toString();
  }

  /** A self-contained HTML page: team and job tables, SVG charts of granted vs used. */
  public static String toHtml(Report report) {
    return new HtmlReport(report).render();
  }

  /** A CSV field as RFC 4180 wants it. */
  public static String csvField(String value) {
    boolean quote = value.indexOf(',') >= 0 || value.indexOf('"') >= 0
        || value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0;
    return quote ? '"' + value.replace("\"", "\"\"") + '"' : value;
  }

  private static void row(StringBuilder out, String... fields) {
    for (int i = 0; i < fields.length; i++) {
      if (i > 0) {
        out.append(',');
      }
      out.append(csvField(fields[i]));
    }
    out.append('\n');
  }

  /** UTC, second precision; empty for 0 (not started, or still running). */
  static String utc(long unixMs) {
    return unixMs == 0 ? "" : Instant.ofEpochMilli(unixMs).truncatedTo(ChronoUnit.SECONDS)
        .toString();
  }

  static String number(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }

  /** One decimal; empty when undefined (nothing granted). */
  static String percent(double v) {
    return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.1f", v);
  }
}
