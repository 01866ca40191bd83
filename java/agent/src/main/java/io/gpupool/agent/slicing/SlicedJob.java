package io.gpupool.agent.slicing;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A running job as the time-slice scheduler needs it: handed from the agent's core thread to
 * the scheduler thread as part of an immutable job set.
 *
 * @param jobId the agent's job id
 * @param entry its node-table entry (the grant's holder is entry + 1)
 * @param uid the job's user (the owner its region must have)
 * @param key the job key (the region's job)
 * @param region the job's control region file
 * @param weight its time-slice weight, at least 1
 * @param devices the physical devices granted to it
 * @param limitBytes its memory limit on each of {@code devices}, in the same order
 */
public record SlicedJob(long jobId, int entry, int uid, String key, Path region, long weight, int[] devices,
    long[] limitBytes) {
  public SlicedJob {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(region, "region");
    if (weight < 1) throw new IllegalArgumentException("job " + jobId + ": weight " + weight + " is not positive");
    if (entry < 0 || entry > 253) throw new IllegalArgumentException("job " + jobId + ": entry " + entry);
    devices = devices.clone();
    limitBytes = limitBytes.clone();
    if (devices.length != limitBytes.length) throw new IllegalArgumentException("one limit per device");
  }

  /** The job's limit on physical device {@code device}, or 0 if it does not have it. */
  long limitOn(int device) {
    for (int i = 0; i < devices.length; i++) if (devices[i] == device) return limitBytes[i];
    return 0;
  }

  boolean has(int device) {
    for (int d : devices) if (d == device) return true;
    return false;
  }
}
