package io.gpupool.agent.slicing;

/**
 * What one job's processes show on one device at one read (a job's gates, summed over its live
 * processes; deltas since the previous read).
 *
 * @param readable false when the job's region could not be read (missing is readable: nothing)
 * @param pending a live process has threads waiting at the gate, work in flight, or submitted
 *     within the grace time
 * @param inFlight gated operations in flight, summed over live processes (a job may report nonsense)
 * @param liveProcesses processes of the job that are alive and hold a slot
 * @param deviceNanos device time completed since the previous read
 * @param waitNanos time its threads spent blocked at the gate since the previous read
 * @param swappedBytes bytes swapped out and in since the previous read
 * @param residentBytes its memory on the device that is resident now (live processes), swappable
 *     or not ({@link JobGates#residentEstimate}); read on oversubscribed devices only, 0 elsewhere
 * @param evictedSeq the least evicted_seq of its live processes; Long.MAX_VALUE with none
 * @param outBytes its memory that is swapped out now: swapped_out_bytes less swapped_in_bytes,
 *     summed over live processes ({@link JobGates#outBytes}); read on oversubscribed devices only,
 *     0 elsewhere
 */
record DeviceSample(boolean readable, boolean pending, long inFlight, int liveProcesses, long deviceNanos,
    long waitNanos, long swappedBytes, long residentBytes, long evictedSeq, long outBytes) {
  static final DeviceSample UNREADABLE = new DeviceSample(false, false, 0, 0, 0, 0, 0, 0, Long.MAX_VALUE, 0);
  static final DeviceSample NOTHING = new DeviceSample(true, false, 0, 0, 0, 0, 0, 0, Long.MAX_VALUE, 0);

  /** Whether nothing of the job can still be running on the device (as far as can be known). */
  boolean drained() {
    return readable && inFlight == 0;
  }
}
