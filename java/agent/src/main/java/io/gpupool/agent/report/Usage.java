package io.gpupool.agent.report;

import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Report arithmetic shared by every rendering: byte-seconds to GiB-hours, per-team totals, the
 * order jobs are listed in.
 *
 * <p>Why in one place: the CSV, the HTML report and {@code gpupool report} must agree to the
 * last digit on what a GiB-hour is (2^30 bytes held for 3600 s) and on what a team's totals
 * are; two copies of that arithmetic would drift.
 */
public final class Usage {

  /** Byte-seconds in one GiB-hour: 2^30 bytes × 3600 s. */
  public static final double BYTE_SECONDS_PER_GIB_HOUR = (double) (1L << 30) * 3600.0;

  private Usage() {}

  /** Byte-seconds → GiB-hours. */
  public static double gibHours(double byteSeconds) {
    return byteSeconds / BYTE_SECONDS_PER_GIB_HOUR;
  }

  /** Used as a percentage of granted; NaN when nothing was granted. */
  public static double usedPercent(double usedByteSeconds, double grantedByteSeconds) {
    return grantedByteSeconds > 0 ? 100.0 * usedByteSeconds / grantedByteSeconds : Double.NaN;
  }

  /** One team's totals over the report's jobs. */
  public record Team(String team, int jobs, double wallSeconds, double grantedByteSeconds,
      double usedByteSeconds) {

    public double wallHours() {
      return wallSeconds / 3600.0;
    }

    public double grantedGibHours() {
      return gibHours(grantedByteSeconds);
    }

    public double usedGibHours() {
      return gibHours(usedByteSeconds);
    }

    /** Percent of the grant actually used; NaN when nothing was granted. */
    public double usedPercent() {
      return Usage.usedPercent(usedByteSeconds, grantedByteSeconds);
    }
  }

  /** The report's jobs in listing order: by start, then id. */
  public static List<JobUsage> jobs(Report report) {
    List<JobUsage> jobs = new ArrayList<>(report.getJobsList());
    jobs.sort(Comparator.comparingLong(JobUsage::getStartedUnixMs)
        .thenComparingLong(JobUsage::getJobId));
    return jobs;
  }

  /** Per-team totals, by team name (the empty team, jobs submitted without one, included). */
  public static List<Team> teams(Report report) {
    Map<String, double[]> sums = new TreeMap<>();
    for (JobUsage j : report.getJobsList()) {
      double[] s = sums.computeIfAbsent(j.getTeam(), t -> new double[4]);
      s[0]++;
      s[1] += j.getWallSeconds();
      s[2] += j.getGrantedByteSeconds();
      s[3] += j.getUsedByteSeconds();
    }
    List<Team> teams = new ArrayList<>();
    sums.forEach((team, s) -> teams.add(new Team(team, (int) s[0], s[1], s[2], s[3])));
    return teams;
  }

  /** The {@code n} jobs that held the most GiB-hours, most first. */
  public static List<JobUsage> topByGranted(Report report, int n) {
    List<JobUsage> jobs = jobs(report);
    jobs.sort(Comparator.comparingDouble(JobUsage::getGrantedByteSeconds).reversed());
    return jobs.subList(0, Math.min(n, jobs.size()));
  }
}
