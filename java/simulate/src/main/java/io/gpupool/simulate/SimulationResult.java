package io.gpupool.simulate;

/**
 * What one replay of a trace under one policy measured. Time averages are over the replay's
 * window, from the first submission to the last completion (fill mode: to the last arrival).
 *
 * @param queue how waiting tasks were let start
 * @param allocationRate share of all GPU capacity granted to tasks (a whole GPU held = 1, a
 *     quota of 460 thousandths = 0.46), time-averaged
 * @param utilisation share of all device time tasks used (their rates), time-averaged
 * @param fragmentedGpus GPUs partly allocated that cannot take the first waiting task (its
 *     per-GPU request exceeds what is free, or their model is not one it accepts), time-averaged
 *     over the whole window; 0 while nothing waits
 * @param fragmentedGpusWhileWaiting the same, averaged only over the time some task waited
 * @param waitingShare share of the window during which at least one task waited
 * @param queueDelay per started task: start minus submission, seconds
 * @param completionTime per completed task: end minus submission, seconds
 * @param atEnd the cluster when the replay ended (what fill mode reports)
 */
public record SimulationResult(Policy policy, Demand demand, QueueDiscipline queue, boolean timed, int nodes, int gpus, TaskCounts tasks,
    double start, double end, double allocationRate, double utilisation, double fragmentedGpus,
    double fragmentedGpusWhileWaiting, double waitingShare, Distribution queueDelay, Distribution completionTime,
    Timeline timeline, EndState atEnd) {

  /** The cluster at one moment: shares of all capacity granted and of device time in use, fragmented GPUs, queue. */
  public record EndState(double allocated, double busy, int fragmentedGpus, int waiting) {}

  /** Of the device time granted, the share used: how much of what tasks held they kept busy. */
  public double usedOfAllocated() {
    return allocationRate > 0 ? utilisation / allocationRate : Double.NaN;
  }

  public double window() {
    return end - start;
  }
}
