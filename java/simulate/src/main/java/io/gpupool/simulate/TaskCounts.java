package io.gpupool.simulate;

/**
 * Where every row of the pod list went, so that none is lost silently.
 *
 * @param inFile rows in the pod list
 * @param cpuOnly num_gpu 0: not GPU work, not replayed
 * @param neverRan no scheduled_time: never started in the traced cluster (withdrawn while
 *     pending), so there is no run time to replay; not replayed
 * @param submitted submitted to the simulated cluster (the rest)
 * @param refused of those, refused at once: no node could ever hold them (as the agent refuses a
 *     job larger than any GPU)
 * @param started of those, started
 * @param completed of those, finished
 * @param waitingAtEnd of those, still queued when the replay ended (fill mode only)
 */
public record TaskCounts(int inFile, int cpuOnly, int neverRan, int submitted, int refused, int started,
    int completed, int waitingAtEnd) {}
