package io.gpupool.agent;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * What the agent remembers across restarts, for `gpupool report`, in its state directory:
 *
 * <pre>
 * jobs.jsonl    one JobUsage (protobuf JSON) per line for each job that ended; appended
 * running.json  a Report holding the running jobs' usage so far; rewritten (tmp + rename)
 * </pre>
 *
 * A restarted agent continues the running jobs' integrals from running.json. A line that does
 * not parse (a torn last write) is skipped with a warning, never fatal.
 */
final class History {
  private static final Logger LOG = Logger.getLogger(History.class.getName());
  private static final JsonFormat.Printer LINE = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();

  private final Path finished;
  private final Path running;

  History(Path stateDir) throws IOException {
    Files.createDirectories(stateDir);
    this.finished = stateDir.resolve("jobs.jsonl");
    this.running = stateDir.resolve("running.json");
  }

  /** Records a job that ended. */
  void append(JobUsage usage) {
    try {
      Files.writeString(finished, LINE.print(usage) + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      LOG.warning("cannot append to " + finished + ": " + e.getMessage());
    }
  }

  /** Saves the running jobs' usage so far. */
  void checkpoint(List<JobUsage> runningJobs) {
    Path tmp = running.resolveSibling("running.json.tmp");
    try {
      Files.writeString(tmp, LINE.print(Report.newBuilder().addAllJobs(runningJobs).build()),
          StandardCharsets.UTF_8);
      Files.move(tmp, running, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.warning("cannot write " + running + ": " + e.getMessage());
    }
  }

  /** The last checkpoint of running jobs, by job id. */
  Map<Long, JobUsage> lastCheckpoint() {
    Map<Long, JobUsage> byId = new HashMap<>();
    if (!Files.exists(running)) return byId;
    try {
      Report.Builder report = Report.newBuilder();
      PARSER.merge(Files.readString(running, StandardCharsets.UTF_8), report);
      for (JobUsage u : report.getJobsList()) byId.put(u.getJobId(), u);
    } catch (IOException e) {
      LOG.warning("ignoring " + running + ": " + e.getMessage());
    }
    return byId;
  }

  /** Jobs that ended at or after {@code sinceMs}. */
  List<JobUsage> finishedSince(long sinceMs) {
    List<JobUsage> out = new ArrayList<>();
    if (!Files.exists(finished)) return out;
    List<String> lines;
    try {
      lines = Files.readAllLines(finished, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int n = 0;
    for (String line : lines) {
      n++;
      if (line.isBlank()) continue;
      try {
        JobUsage.Builder u = JobUsage.newBuilder();
        PARSER.merge(line, u);
        if (u.getEndedUnixMs() >= sinceMs) out.add(u.build());
      } catch (InvalidProtocolBufferException e) {
        LOG.warning(finished + ":" + n + ": skipped, not a job record: " + e.getMessage());
      }
    }
    return out;
  }

  /**
   * The part of a job's usage inside [sinceMs, untilMs]: integrals are scaled by the fraction of
   * its wall time inside the window (usage is sampled, not kept per hour).
   */
  static JobUsage clip(JobUsage u, long sinceMs, long untilMs) {
    long end = u.getEndedUnixMs() == 0 ? untilMs : u.getEndedUnixMs();
    long start = u.getStartedUnixMs();
    if (start >= sinceMs || end <= start) return u;
    double fraction = Math.max(0, end - Math.max(start, sinceMs)) / (double) (end - start);
    return u.toBuilder()
        .setGrantedByteSeconds(u.getGrantedByteSeconds() * fraction)
        .setUsedByteSeconds(u.getUsedByteSeconds() * fraction)
        .setWallSeconds(u.getWallSeconds() * fraction)
        .build();
  }
}
