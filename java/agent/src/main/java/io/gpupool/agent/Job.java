package io.gpupool.agent;

import java.util.List;

/**
 * A job the agent knows: waiting in the queue or running under a grant. Owned by the agent's
 * core thread (see {@link Agent}); never shared with other threads.
 */
public final class Job {
  enum State { WAITING, RUNNING, ENDED }

  final long id;
  final String key;
  final int uid;
  final String name;
  final String team;
  final long bytesPerGpu; // as asked; 0: whole devices
  final int gpus;
  final int weight;
  final List<String> command;
  final long submittedUnixMs;

  State state = State.WAITING;
  /** The connection of its `gpupool run`, while open; null after a restart or once closed. */
  JobConnection connection;
  int launcherPid;
  /** The launcher said its command exited (Finished): only the job's own processes keep it alive. */
  boolean launcherFinished;
  long launcherStartTime;
  /** Granted physical devices, in the job's order, and the quota on each. */
  List<Integer> devices = List.of();
  long[] quotaBytes = new long[0];
  int tableEntry = -1;
  long startedUnixMs;
  /** Set once its end was decided (finished, cancelled): the grant is released at the next check. */
  boolean cancelRequested;
  long cancelRequestedAtMs;

  /** Accounting for the report, over the time it has run. */
  double grantedByteSeconds;
  double usedByteSeconds;
  long peakUsedBytes;
  long lastSampleMs;
  long[] usedBytes = new long[0];
  List<Integer> pids = List.of();

  Job(long id, String key, int uid, String name, String team, long bytesPerGpu, int gpus, int weight,
      List<String> command, long submittedUnixMs) {
    this.id = id;
    this.key = key;
    this.uid = uid;
    this.name = name;
    this.team = team;
    this.bytesPerGpu = bytesPerGpu;
    this.gpus = gpus;
    this.weight = weight;
    this.command = List.copyOf(command);
    this.submittedUnixMs = submittedUnixMs;
  }

  long grantedBytesTotal() {
    long sum = 0;
    for (long q : quotaBytes) sum += q;
    return sum;
  }

  long usedBytesTotal() {
    long sum = 0;
    for (long u : usedBytes) sum += u;
    return sum;
  }
}
